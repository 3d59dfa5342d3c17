package testenv

import (
	"cmp"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The repository's cluster files (deploy/): the hub's three members and
// leaf cluster b's two servers.
var (
	HubMembers  = []string{"hub-1.conf", "hub-2.conf", "hub-3.conf"}
	LeafMembers = []string{"leaf-b-1.conf", "leaf-b-2.conf"}
)

// Ports of the repository's cluster files, in member order.
var (
	hubClientPorts  = []string{"4222", "4232", "4242"}
	hubLeafPorts    = []string{"7422", "7432", "7442"}
	hubRoutePorts   = []string{"6222", "6232", "6242"}
	hubMonitorPorts = []string{"8222", "8232", "8242"}
	leafWSPorts     = []string{"9225", "9226"}
	leafRoutePorts  = []string{"6225", "6226"}
	leafMonPorts    = []string{"8226", "8227"}
)

// ClusterConfs is a temp copy of nats.conf, deploy/leaf-b.conf and the
// cluster files, every loopback port of the repository mapped to one free
// port in every file, each JetStream store moved into the temp dir, and
// passwords "test-<user>" (Env).
type ClusterConfs struct {
	Dir  string
	port map[string]string // repository port → free port
	host map[string]string // repository port → the host it is served on
}

var (
	anyLoopbackPort = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	relativeStore   = regexp.MustCompile(`"\./\.emostream([^"]*)"`)
)

// CopyClusterConfs copies the cluster files from deployDir (the
// repository's deploy/, relative to the test's package). hosts, if not
// nil, gives the address that listeners take instead of 127.0.0.1 (network
// namespaces), per repository port ("7422") or else per file
// ("leaf-b-1.conf"); the others stay on loopback.
func CopyClusterConfs(t testing.TB, deployDir string, hosts map[string]string) *ClusterConfs {
	t.Helper()
	c := &ClusterConfs{Dir: t.TempDir(), port: map[string]string{}, host: map[string]string{}}
	if err := os.Mkdir(filepath.Join(c.Dir, "deploy"), 0o700); err != nil {
		t.Fatal(err)
	}
	names := append(append([]string{"../nats.conf", "leaf-b.conf"}, HubMembers...), LeafMembers...)
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(deployDir, name))
		if err != nil {
			t.Fatal(err)
		}
		s := anyLoopbackPort.ReplaceAllStringFunc(string(b), func(a string) string {
			p := strings.TrimPrefix(a, "127.0.0.1:")
			if c.port[p] == "" {
				_, c.port[p], _ = net.SplitHostPort(FreeAddr())
				c.host[p] = cmp.Or(hosts[p], hosts[name], "127.0.0.1")
			}
			return net.JoinHostPort(c.host[p], c.port[p])
		})
		s = relativeStore.ReplaceAllString(s, `"`+filepath.Join(c.Dir, "store")+`$1"`)
		if err := os.WriteFile(filepath.Join(c.Dir, "deploy", name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Path is the copy of a deploy/ file.
func (c *ClusterConfs) Path(name string) string { return filepath.Join(c.Dir, "deploy", name) }

// Port is where the copy serves a port of the repository files.
func (c *ClusterConfs) Port(repoPort string) string { return c.port[repoPort] }

func (c *ClusterConfs) urls(scheme, userinfo string, ports []string) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = scheme + "://" + userinfo + net.JoinHostPort(c.host[p], c.port[p])
	}
	return out
}

// HubURLs are the members' client URLs, for --nats.
func (c *ClusterConfs) HubURLs() []string { return c.urls("nats", "", hubClientPorts) }

// HubMonitor is member i's (0-based) monitoring URL.
func (c *ClusterConfs) HubMonitor(i int) string { return c.urls("http", "", hubMonitorPorts)[i] }

// LeafWebSockets are leaf cluster b's servers' WebSocket URLs.
func (c *ClusterConfs) LeafWebSockets() []string { return c.urls("ws", "", leafWSPorts) }

// LeafMonitor is leaf server i's (0-based) monitoring URL.
func (c *ClusterConfs) LeafMonitor(i int) string { return c.urls("http", "", leafMonPorts)[i] }

// StagePassword is a stage user's password in the copies.
func StagePassword(user string) string { return "test-" + user }

// Env is what the files read from the environment: every password, the
// routes of both clusters and the leaf servers' remote list (every hub
// member), as KEY=VALUE.
func (c *ClusterConfs) Env() []string {
	var env []string
	for _, u := range []string{"ingest", "bridge", "processor", "admin", "edge", "monitor", "leaf", "route"} {
		env = append(env, fmt.Sprintf("EMOSTREAM_%s_PASSWORD=%s", strings.ToUpper(u), StagePassword(u)))
	}
	list := func(urls []string) string { return "[" + strings.Join(urls, ", ") + "]" }
	return append(env,
		"EMOSTREAM_HUB_ROUTES="+list(c.urls("nats-route", "route:"+StagePassword("route")+"@", hubRoutePorts)),
		"EMOSTREAM_LEAF_ROUTES="+list(c.urls("nats-route", "route:"+StagePassword("route")+"@", leafRoutePorts)),
		"EMOSTREAM_LEAF_REMOTE="+list(c.urls("nats-leaf", "leaf:"+StagePassword("leaf")+"@", hubLeafPorts)))
}

// SetEnv sets Env for the test (in-process servers).
func (c *ClusterConfs) SetEnv(t testing.TB) {
	for _, kv := range c.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// AddStagesUser adds a user entry (a .conf map) to account STAGES of the
// copy of nats.conf: a test's harness user with every permission.
func (c *ClusterConfs) AddStagesUser(t testing.TB, entry string) {
	t.Helper()
	p := c.Path("../nats.conf")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	stages := strings.Index(s, "\n  STAGES {\n")
	users := strings.Index(s[max(stages, 0):], "\n    users: [\n")
	if stages < 0 || users < 0 {
		t.Fatal("nats.conf: no STAGES users list to add a user to")
	}
	at := stages + users + len("\n    users: [\n")
	s = s[:at] + "      " + entry + "\n" + s[at:]
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
