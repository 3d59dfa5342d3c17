package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/fanout/fanouttest"
	"github.com/emostream/emostream/internal/clientip"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// checkEdgeFlags: an edge reads the swarms of a leaf in the hub's
// JetStream domain, with its password from a file and not in the URL, on
// a listener viewers can reach, taking no more viewers than it may open
// files (nofile, "" when the runtime sets it). Other stages pass.
func checkEdgeFlags(t *testing.T, command string, flags map[string]string, nofile string) {
	t.Helper()
	if command != "edge" {
		return
	}
	if flags["js-domain"] != "hub" {
		t.Errorf("--js-domain=%q: want hub (the edge reads a leaf)", flags["js-domain"])
	}
	u, err := url.Parse(flags["nats"])
	if err != nil || u.Scheme != "nats" && u.Scheme != "tls" || u.User != nil || u.Port() == "" {
		t.Errorf("--nats=%q: want nats://host:port, the password in --nats-password-file (%v)", flags["nats"], err)
	}
	if l := parseListener(t, "--listen", flags["listen"]); isLoopback(l.host) {
		t.Errorf("--listen=%s: viewers cannot reach loopback", flags["listen"])
	}
	if nofile == "" {
		return
	}
	limit, _ := strconv.ParseInt(nofile, 10, 64)
	conns, err := strconv.ParseInt(flags["max-connections"], 10, 64)
	if err != nil || conns+4096 > limit {
		t.Errorf("--max-connections=%q: want it set, 4096 below LimitNOFILE=%s", flags["max-connections"], nofile)
	}
}

// checkEdgeUpstream: a Kubernetes edge's --nats is a Service port of
// the leaf workload, whose .conf listens there off loopback and has the
// user edge for standard (non-WebSocket) connections; and behind the
// Ingress the edge believes its X-Forwarded-For (--trusted-proxies).
func checkEdgeUpstream(t *testing.T, m *manifests, flags map[string]string) {
	t.Helper()
	if p, err := clientip.ParsePrefixes(flags["trusted-proxies"]); err != nil || len(p) == 0 {
		t.Errorf("--trusted-proxies=%q: want the Ingress controller's CIDR, the edges' peer (%v)", flags["trusted-proxies"], err)
	}
	u, err := url.Parse(flags["nats"])
	if err != nil {
		return // checkEdgeFlags said so
	}
	i := slices.IndexFunc(m.services, func(s *corev1.Service) bool { return s.Name == u.Hostname() })
	if i < 0 {
		t.Fatalf("--nats=%s: no Service %s", flags["nats"], u.Hostname())
	}
	svc := m.services[i]
	ws := m.selected(labels.SelectorFromSet(svc.Spec.Selector))
	j := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == u.Port() })
	if len(ws) != 1 || ws[0].pod.Spec.Containers[0].Args[0] != "leaf" || j < 0 {
		t.Fatalf("--nats=%s: Service %s has no port %s of a leaf workload", flags["nats"], svc.Name, u.Port())
	}
	leaf := ws[0]
	port := containerPort(leaf.pod.Spec.Containers[0].Ports, svc.Spec.Ports[j].TargetPort.String())
	_, leafFlags, _ := parseArgs(t, leaf.pod.Spec.Containers[0].Args)
	text := mountedConf(t, m, &leaf.pod.Spec, leafFlags["c"])
	confEnv(t, &leaf.pod.Spec.Containers[0])
	opts := loadConf(t, "leaf", writeConf(t, "leaf.conf", text))
	if opts.Port != int(port) || isLoopback(opts.Host) {
		t.Errorf("Service %s port %s reaches container port %d; the leaf's client port is %s",
			svc.Name, u.Port(), port, net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))
	}
	k := slices.IndexFunc(opts.Users, func(u *server.User) bool { return u.Username == "edge" })
	if k < 0 || opts.Users[k].Password == "" || !allows(opts.Users[k], "STANDARD") {
		t.Errorf("leaf ConfigMap %s: no user edge with a password for standard connections (remove its \"#EDGE \" prefixes)", leafFlags["c"])
	}
}

// allows reports whether u may connect with connection type typ (all
// types when none are listed).
func allows(u *server.User, typ string) bool {
	_, ok := u.AllowedConnectionTypes[typ]
	return ok || len(u.AllowedConnectionTypes) == 0
}

// containerPort is the number of the named (or numbered) port.
func containerPort(ports []corev1.ContainerPort, nameOrNumber string) int32 {
	for _, p := range ports {
		if p.Name == nameOrNumber || strconv.Itoa(int(p.ContainerPort)) == nameOrNumber {
			return p.ContainerPort
		}
	}
	return 0
}

// TestKubernetesEdgeServesViewers runs edge.yaml's container as the built
// binary, its addresses on loopback, against a leaf loaded from the leaf
// ConfigMap (and a hub): /readyz turns 200, a viewer gets a match's latest
// and live swarms, and the edge's occupancy reports reach the hub, so the
// ConfigMap's user edge lets an edge do all it must.
func TestKubernetesEdgeServesViewers(t *testing.T) {
	m := loadManifests(t)
	edgeW, leafW := workloadOf(t, m, "edge"), workloadOf(t, m, "leaf")
	hub, js := fanouttest.StartHub(t)
	lc := &leafW.pod.Spec.Containers[0]
	_, leafFlags, _ := parseArgs(t, lc.Args)
	env := confEnv(t, lc)
	t.Setenv("EMOSTREAM_LEAF_REMOTE", hub.LeafRemote())
	text := loopbackPorts(strings.ReplaceAll(mountedConf(t, m, &leafW.pod.Spec, leafFlags["c"]), "0.0.0.0:", "127.0.0.1:"))
	leaf := fanouttest.StartLeaf(t, fanout.LeafConfig{ConfigFile: writeConf(t, "leaf.conf", text)})

	listen, ops := testenv.FreeAddr(), testenv.FreeAddr()
	edgeArgs := overrideArgs(t, edgeW.pod.Spec.Containers[0].Args, map[string]string{
		"listen": listen, "ops": ops, "nats": leaf.ClientURL(), "occupancy-interval": "200ms",
		"nats-password-file": writeConf(t, "nats-password", env["EMOSTREAM_EDGE_PASSWORD"]), "id": "edge-k8s"})
	startEdgeBinary(t, edgeArgs)
	testenv.WaitFor(t, 10*time.Second, "/readyz 200", func() bool { return httpStatus("http://"+ops+"/readyz") == 200 })

	reports, err := connectTo(t, hub.ClientURL()).SubscribeSync(wire.ViewersSubject("edge-k8s"))
	if err != nil {
		t.Fatal(err)
	}
	publishSwarm(t, js, "m1", 0)
	viewer, err := nats.Connect("ws://"+listen, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("a viewer through the edge: %v", err)
	}
	t.Cleanup(viewer.Close)
	live, err := viewer.SubscribeSync(wire.LiveSubject("m1"))
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := viewer.Request(wire.LatestSwarmRequest("m1"), nil, 5*time.Second); err != nil || !bytes.Contains(msg.Data, []byte(`"m1"`)) {
		t.Fatalf("latest of m1 through the edge: %v %v", msg, err)
	}
	testenv.WaitFor(t, 10*time.Second, "the leaf's interest at the hub", func() bool { return leafInterest(hub, wire.LiveSubjects) }) // the edge reads every match on one subscription
	publishSwarm(t, js, "m1", 1)
	if msg, err := live.NextMsg(5 * time.Second); err != nil || !bytes.Contains(msg.Data, []byte(`"m1"`)) {
		t.Fatalf("live swarm through the edge: %v %v", msg, err)
	}
	if _, err := reports.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("no occupancy report of the edge at the hub: %v", err)
	}
}

// workloadOf is the workload that runs emostream command.
func workloadOf(t *testing.T, m *manifests, command string) *workload {
	t.Helper()
	for _, w := range m.workloads {
		if w.pod.Spec.Containers[0].Args[0] == command {
			return w
		}
	}
	t.Fatalf("no workload runs emostream %s", command)
	return nil
}

func connectTo(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// publishSwarm stores the swarm of window w of match.
func publishSwarm(t *testing.T, js jetstream.JetStream, match string, w int) {
	t.Helper()
	start := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC).Add(time.Duration(w) * 2 * time.Second)
	b, err := json.Marshal(wire.Swarm{MatchID: match, WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Counts: map[string]int64{"🔥": 1}, Total: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, wire.SwarmSubject(match), b); err != nil {
		t.Fatalf("publishing %s/%d: %v", match, w, err)
	}
}

// leafInterest reports whether the hub sends subject to a leaf.
func leafInterest(h *fanout.Hub, subject string) bool {
	lz, err := h.Server().Leafz(&server.LeafzOptions{Subscriptions: true})
	if err != nil {
		return false
	}
	for _, l := range lz.Leafs {
		if slices.Contains(l.Subs, subject) {
			return true
		}
	}
	return false
}

// overrideArgs replaces (or adds) the values of flags in args, each
// --name=value.
func overrideArgs(t *testing.T, args []string, values map[string]string) []string {
	t.Helper()
	out := []string{args[0]}
	for _, a := range args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if _, ok := values[name]; !ok {
			out = append(out, a)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		out = append(out, "--"+name+"="+values[name])
	}
	return out
}

// startEdgeBinary runs the built emostream with args until the test ends.
func startEdgeBinary(t *testing.T, args []string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("emostream %s:\n%s", strings.Join(args, " "), out.String())
		}
	})
}

// httpStatus is the status of a GET of url, 0 if it fails.
func httpStatus(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
