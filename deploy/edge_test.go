package deploy

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
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
	u, err := url.Parse(flags["upstream"])
	if err != nil || u.Scheme != "nats" && u.Scheme != "tls" || u.User != nil || u.Port() == "" {
		t.Errorf("--upstream=%q: want nats://host:port, the password in --nats-password-file (%v)", flags["upstream"], err)
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

// checkEdgeUpstream: a Kubernetes edge's --upstream is a Service port of
// the leaf workload, whose .conf listens there off loopback and has the
// user edge for standard (non-WebSocket) connections.
func checkEdgeUpstream(t *testing.T, m *manifests, flags map[string]string) {
	t.Helper()
	u, err := url.Parse(flags["upstream"])
	if err != nil {
		return // checkEdgeFlags said so
	}
	i := slices.IndexFunc(m.services, func(s *corev1.Service) bool { return s.Name == u.Hostname() })
	if i < 0 {
		t.Fatalf("--upstream=%s: no Service %s", flags["upstream"], u.Hostname())
	}
	svc := m.services[i]
	ws := m.selected(labels.SelectorFromSet(svc.Spec.Selector))
	j := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == u.Port() })
	if len(ws) != 1 || ws[0].pod.Spec.Containers[0].Args[0] != "leaf" || j < 0 {
		t.Fatalf("--upstream=%s: Service %s has no port %s of a leaf workload", flags["upstream"], svc.Name, u.Port())
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
