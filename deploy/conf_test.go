package deploy

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
)

// confEnv sets what the .conf files read from the environment, as a
// container's env would (a secret becomes a fake value, $(VAR) expands),
// and returns it.
func confEnv(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "test" + strings.ToLower(strings.ReplaceAll(e.Name, "_", ""))
		}
		for k, kv := range env {
			v = strings.ReplaceAll(v, "$("+k+")", kv)
		}
		env[e.Name] = v
		t.Setenv(e.Name, v)
	}
	return env
}

// writeConf writes a .conf text into a temp file.
func writeConf(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadConf loads a .conf the way emostream hub or leaf -c does, with its
// checks (the hub refuses a client port open without credentials).
func loadConf(t *testing.T, command, path string) *server.Options {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	switch command {
	case "hub":
		_, err = fanout.NewHub(fanout.HubConfig{ConfigFile: path, Logger: log})
	case "leaf":
		_, err = fanout.NewLeaf(fanout.LeafConfig{ConfigFile: path, Logger: log})
	default:
		err = fmt.Errorf("emostream %s takes no .conf", command)
	}
	if err != nil {
		t.Fatalf("emostream %s -c %s: %v", command, path, err)
	}
	opts := &server.Options{}
	if err := opts.ProcessConfigFile(path); err != nil {
		t.Fatal(err)
	}
	return opts
}

// confListeners loads the .conf a container gives with -c, from the
// ConfigMap mounted there, and returns the addresses it listens on.
func confListeners(t *testing.T, m *manifests, w *workload, conf string) []listener {
	t.Helper()
	c := &w.pod.Spec.Containers[0]
	text := mountedConf(t, m, &w.pod.Spec, conf)
	confEnv(t, c)
	opts := loadConf(t, c.Args[0], writeConf(t, filepath.Base(conf), text))
	ln := []listener{{"listen", opts.Host, int32(opts.Port)}, {"http", opts.HTTPHost, int32(opts.HTTPPort)}}
	if opts.Websocket.Port != 0 {
		ln = append(ln, listener{"websocket", opts.Websocket.Host, int32(opts.Websocket.Port)})
	}
	if opts.LeafNode.Port != 0 {
		ln = append(ln, listener{"leafnodes", opts.LeafNode.Host, int32(opts.LeafNode.Port)})
	}
	if opts.Cluster.Port != 0 {
		ln = append(ln, listener{"cluster", opts.Cluster.Host, int32(opts.Cluster.Port)})
	}
	if opts.JetStream && !onClaim(w, opts.StoreDir) {
		t.Errorf("%s: JetStream store_dir %s is not on a volumeClaimTemplate's mount", conf, opts.StoreDir)
	}
	return ln
}

// mountedConf is the text of the file path in the ConfigMap mounted at
// its directory.
func mountedConf(t *testing.T, m *manifests, p *corev1.PodSpec, path string) string {
	t.Helper()
	vol := mountedVolume(p, filepath.Dir(path))
	if vol == nil || vol.ConfigMap == nil {
		t.Fatalf("-c=%s: no ConfigMap is mounted at %s", path, filepath.Dir(path))
	}
	cm, ok := m.configMaps[vol.ConfigMap.Name]
	text, ok2 := cm.Data[filepath.Base(path)]
	if !ok || !ok2 {
		t.Fatalf("-c=%s: ConfigMap %s has no key %s", path, vol.ConfigMap.Name, filepath.Base(path))
	}
	return text
}

// onClaim reports whether dir is on a volume of w's volumeClaimTemplates.
func onClaim(w *workload, dir string) bool {
	for _, vm := range w.pod.Spec.Containers[0].VolumeMounts {
		for _, c := range w.claims {
			if vm.Name == c.Name && strings.HasPrefix(dir+"/", strings.TrimSuffix(vm.MountPath, "/")+"/") {
				return true
			}
		}
	}
	return false
}

// TestKubernetesConfTLS: the ConfigMaps' .conf files load with their
// "#TLS " lines turned on, the mounted PEM files replaced by test ones.
func TestKubernetesConfTLS(t *testing.T) {
	m := loadManifests(t)
	certs := testenv.NewCerts(t)
	for _, w := range m.workloads {
		c := &w.pod.Spec.Containers[0]
		_, flags, _ := parseArgs(t, c.Args)
		conf, ok := flags["c"]
		if !ok {
			continue
		}
		t.Run(w.name, func(t *testing.T) {
			text := mountedConf(t, m, &w.pod.Spec, conf)
			if !strings.Contains(text, "#TLS ") {
				t.Fatalf("%s: no #TLS lines", conf)
			}
			cert, key := certs.ServerCertFile, certs.ServerKeyFile
			if c.Args[0] == "leaf" { // its TLS is the remote's: a client certificate
				cert, key = certs.ClientCertFile, certs.ClientKeyFile
			}
			text = strings.NewReplacer("#TLS ", "", "/etc/emostream/tls/ca.crt", certs.CAFile,
				"/etc/emostream/tls/tls.crt", cert, "/etc/emostream/tls/tls.key", key).Replace(text)
			confEnv(t, c)
			opts := loadConf(t, c.Args[0], writeConf(t, filepath.Base(conf), text))
			if c.Args[0] == "hub" && (!verifies(opts.TLSConfig) || !verifies(opts.LeafNode.TLSConfig) || !verifies(opts.Cluster.TLSConfig)) {
				t.Error("hub: want TLS verifying client certificates on the client, leafnode and cluster ports")
			}
			if c.Args[0] == "leaf" && (len(opts.LeafNode.Remotes) != 1 || opts.LeafNode.Remotes[0].TLSConfig == nil) {
				t.Error("leaf: want TLS to the remote")
			}
		})
	}
}

func verifies(c *tls.Config) bool { return c != nil && c.ClientAuth == tls.RequireAndVerifyClientCert }

// confSettings are the settings a pod's .conf shares with the repository's
// (everything but names, addresses and the store).
type confSettings struct {
	MaxConn, MaxSubs, MaxPending, MaxPayload int64
	WriteDeadline                            time.Duration
	Domain                                   string
	SyncAlways                               bool
	NoAuthUser                               string
	Compression                              bool
	// Link liveness: how soon a leaf notices a partition from its hub.
	PingInterval, WSPingInterval time.Duration
	MaxPingsOut                  int
}

func settings(o *server.Options) confSettings {
	return confSettings{int64(o.MaxConn), int64(o.MaxSubs), o.MaxPending, int64(o.MaxPayload), o.WriteDeadline,
		o.JetStreamDomain, o.SyncAlways, o.Websocket.NoAuthUser, o.Websocket.Compression,
		o.PingInterval, o.Websocket.PingInterval, o.MaxPingsOut}
}

// TestKubernetesConfMatchesRepository: the ConfigMaps' hub.conf and
// leaf.conf are nats.conf and deploy/leaf-b.conf with a pod's addresses
// (and leaf-b.conf's optional "#EDGE " lines on, for edge.yaml): the same
// users, permissions, accounts and limits.
func TestKubernetesConfMatchesRepository(t *testing.T) {
	m := loadManifests(t)
	for _, tc := range []struct{ configMap, key, command, repo, from, on string }{
		{"emostream-hub", "hub.conf", "hub", "../nats.conf", "INGEST_PERMISSIONS", ""},
		{"emostream-leaf", "leaf.conf", "leaf", "leaf-b.conf", "accounts {", "#EDGE "},
	} {
		t.Run(tc.key, func(t *testing.T) {
			cm, ok := m.configMaps[tc.configMap]
			if !ok {
				t.Fatalf("no ConfigMap %s", tc.configMap)
			}
			b, err := os.ReadFile(tc.repo)
			if err != nil {
				t.Fatal(err)
			}
			repo := string(b)
			if tc.on != "" {
				if !strings.Contains(repo, tc.on) {
					t.Fatalf("%s has no %q lines", tc.repo, tc.on)
				}
				repo = strings.ReplaceAll(repo, tc.on, "")
			}
			got, want := confBlock(cm.Data[tc.key], tc.from), confBlock(repo, tc.from)
			if got == "" || got != want {
				t.Errorf("ConfigMap %s %s: the block from %q to leafnodes differs from %s; copy it again:\n%s",
					tc.configMap, tc.key, tc.from, tc.repo, want)
			}
			setConfSecrets(t)
			g := settings(loadConf(t, tc.command, writeConf(t, tc.key, cm.Data[tc.key])))
			w := settings(loadConf(t, tc.command, writeConf(t, tc.key, loopbackPorts(repo))))
			if g != w {
				t.Errorf("%s settings %+v, %s has %+v", tc.key, g, tc.repo, w)
			}
		})
	}
}

// setConfSecrets sets every variable the .conf files read.
func setConfSecrets(t testing.TB) {
	for _, v := range []string{"LEAF", "INGEST", "BRIDGE", "PROCESSOR", "ADMIN", "EDGE", "MONITOR"} {
		t.Setenv("EMOSTREAM_"+v+"_PASSWORD", "test-"+strings.ToLower(v))
	}
	t.Setenv("EMOSTREAM_LEAF_REMOTE", "nats-leaf://leaf:test-leaf@127.0.0.1:7422")
	t.Setenv("EMOSTREAM_ROUTE_PASSWORD", "test-route")
	t.Setenv("EMOSTREAM_HUB_ROUTES", "[nats-route://route:test-route@127.0.0.1:6222]")
	t.Setenv("EMOSTREAM_LEAF_ROUTES", "[nats-route://route:test-route@127.0.0.1:6225]")
	t.Setenv("POD_NAME", "test-0")
}

var (
	inlineComment = regexp.MustCompile(`\s+#.*$`)
	loopbackPort  = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// confBlock is the text from the line starting with from up to the
// leafnodes block, without comments, blank lines or indentation.
func confBlock(text, from string) string {
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(inlineComment.ReplaceAllString(line, ""))
		in = in || strings.HasPrefix(line, from)
		if strings.HasPrefix(line, "leafnodes {") {
			break
		}
		if in && line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// loopbackPorts makes a repository .conf loadable next to others: random
// loopback ports, the store in a temp dir.
func loopbackPorts(text string) string {
	text = loopbackPort.ReplaceAllString(text, `"127.0.0.1:-1"`)
	return strings.Replace(text, `"./.emostream"`, `"`+os.TempDir()+`/emostream-deploy-js"`, 1)
}

// isLoopback reports whether host only takes local connections.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
