package deploy

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) the manifests use: decoded strictly, so any
// other field is an error until this type knows it (there is no Go type
// of the operator among the module's dependencies).
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// exporterImage is the Prometheus exporter beside each NATS server; its
// flags, as far as the manifests use them, are exporterFlags.
var (
	exporterImage = regexp.MustCompile(`^natsio/prometheus-nats-exporter:\d+\.\d+\.\d+$`)
	exporterFlags = regexp.MustCompile(`^-(port=\d+|addr=0\.0\.0\.0|varz|connz|routez|leafz|subz|healthz|jsz=all|use_internal_server_name)$`)
)

// checkExporter: the exporter sidecar of a NATS server (hub, leaf) polls
// that server's monitoring port and serves /metrics on its declared port.
func checkExporter(t *testing.T, command string, c *corev1.Container, ln []listener) {
	t.Helper()
	if command != "hub" && command != "leaf" {
		t.Errorf("container %s beside emostream %s: only a NATS server has an exporter", c.Name, command)
	}
	if !exporterImage.MatchString(c.Image) || len(c.Command) > 0 {
		t.Errorf("container %s: image %q, command %q; want a pinned natsio/prometheus-nats-exporter and its entrypoint", c.Name, c.Image, c.Command)
	}
	checkHardening(t, c)
	var port, url string
	seen := map[string]bool{}
	for i, a := range c.Args {
		switch {
		case i == len(c.Args)-1:
			url = a
		case !exporterFlags.MatchString(a):
			t.Errorf("exporter argument %q: not a flag this test knows (%s)", a, exporterFlags)
		default:
			name, value, _ := strings.Cut(a, "=")
			seen[name] = true
			if name == "-port" {
				port = value
			}
		}
	}
	if !seen["-varz"] || command == "hub" && !seen["-jsz"] {
		t.Errorf("exporter %q: want -varz (the dashboard's gnatsd_varz_*), and -jsz=all on the hub", c.Args)
	}
	// Without it every series' server_id is the polled URL, the same
	// http://localhost:PORT in every pod: the dashboard's NATS server
	// variable and legends could not tell the members apart.
	if !seen["-use_internal_server_name"] {
		t.Errorf("exporter %q: want -use_internal_server_name (server_id the server's name, its pod's, not the polled URL)", c.Args)
	}
	i := slices.IndexFunc(ln, func(l listener) bool { return l.what == "http" })
	if i < 0 || url != fmt.Sprintf("http://localhost:%d", ln[i].port) {
		t.Errorf("exporter polls %q; want the server's monitoring port, http://localhost:<http port of its .conf>", url)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port {
		t.Errorf("exporter ports %+v: want one named metrics, its -port=%s", c.Ports, port)
	}
}

// opsCommands are the commands whose --ops listener serves /metrics.
var opsCommands = []string{"ingest", "bridge", "processor", "edge"}

// scrapePort is the container port Prometheus scrapes in w's pod: the
// exporter's, or emostream's metrics listener (0: none).
func scrapePort(command string, c, exporter *corev1.Container, ln []listener) int32 {
	if exporter != nil {
		return exporter.Ports[0].ContainerPort
	}
	i := slices.IndexFunc(ln, func(l listener) bool { return slices.Contains(opsCommands, command) && l.what == "--ops" })
	if i < 0 || !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == ln[i].port }) {
		return 0
	}
	return ln[i].port
}

// checkScrape: every pod template tells Prometheus where its /metrics is.
func checkScrape(t *testing.T, w *workload, command string, flags map[string]string, ln []listener, exporter *corev1.Container) {
	t.Helper()
	a := w.pod.Annotations
	port := scrapePort(command, &w.pod.Spec.Containers[0], exporter, ln)
	if port == 0 {
		t.Errorf("emostream %s: no declared port serves /metrics (nats-server has none: give it an exporter)", command)
	}
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" || a["prometheus.io/port"] != strconv.Itoa(int(port)) {
		t.Errorf("pod annotations %v: want prometheus.io/scrape \"true\", path /metrics, port \"%d\"", a, port)
	}
}

// hubCluster is the hub StatefulSet and its members' addresses.
type hubCluster struct {
	w                              *workload
	members                        []string // pod DNS names, <sts>-<i>.<service>
	client, leafnodes, clusterPort int
}

// findHub loads the hub's .conf as its pods do.
func findHub(t *testing.T, m *manifests) *hubCluster {
	t.Helper()
	i := slices.IndexFunc(m.workloads, func(w *workload) bool { return w.pod.Spec.Containers[0].Args[0] == "hub" })
	if i < 0 {
		t.Fatal("no hub workload")
	}
	w := m.workloads[i]
	opts := podConf(t, m, w)
	return &hubCluster{w: w, members: members(w), client: opts.Port, leafnodes: opts.LeafNode.Port, clusterPort: opts.Cluster.Port}
}

// members are the stable DNS names of a StatefulSet's pods in its
// namespace.
func members(w *workload) []string {
	var out []string
	for i := range w.replicas {
		out = append(out, fmt.Sprintf("%s-%d.%s", w.name, i, w.service))
	}
	return out
}

// podConf loads the .conf w's container gives with -c, with its env.
func podConf(t *testing.T, m *manifests, w *workload) *server.Options {
	t.Helper()
	c := &w.pod.Spec.Containers[0]
	_, flags, _ := parseArgs(t, c.Args)
	text := mountedConf(t, m, &w.pod.Spec, flags["c"])
	confEnv(t, c)
	return loadConf(t, c.Args[0], writeConf(t, filepath.Base(flags["c"]), text))
}

// hostPorts are the host:port of each URL of a list, and whether all
// have the scheme.
func hostPorts(t *testing.T, list []string, scheme string) []string {
	t.Helper()
	var out []string
	for _, s := range list {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Scheme != scheme {
			t.Errorf("URL %q: want %s://host:port (%v)", s, scheme, err)
			continue
		}
		out = append(out, u.Host)
	}
	return slices.Sorted(slices.Values(out))
}

func withPort(hosts []string, port int) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, fmt.Sprintf("%s:%d", h, port))
	}
	return out
}

// checkHubMembers: a command connecting to the hub names every member
// (nats.go fails over between them) and gives the streams and the
// registry a replica on each (--replicas).
func checkHubMembers(t *testing.T, m *manifests, w *workload, command string, flags map[string]string) {
	t.Helper()
	if command == "hub" || command == "leaf" || command == "edge" {
		return // the routes and remotes: TestKubernetesClusterRoutes
	}
	hub := findHub(t, m)
	checkStageHubFlags(t, hub, command, flags)
}

func checkJobHubMembers(t *testing.T, j *batchv1.Job, command string, flags map[string]string) {
	t.Helper()
	checkStageHubFlags(t, findHub(t, loadManifests(t)), command, flags)
}

func checkStageHubFlags(t *testing.T, hub *hubCluster, command string, flags map[string]string) {
	t.Helper()
	got := hostPorts(t, strings.Split(flags["nats"], ","), "nats")
	if want := withPort(hub.members, hub.client); !slices.Equal(got, want) {
		t.Errorf("emostream %s --nats=%s: want every hub member's client URL %v", command, flags["nats"], want)
	}
	if commandFlags(t, command)["replicas"] && flags["replicas"] != strconv.Itoa(int(hub.w.replicas)) {
		t.Errorf("emostream %s --replicas=%q: want %d, a replica on each hub member", command, flags["replicas"], hub.w.replicas)
	}
}

// TestKubernetesClusterRoutes: the hub and each leaf cluster are
// StatefulSets whose .conf routes to every member by its stable name
// (headless Service, published before ready, pods started in parallel: no
// member is ready before it has found the others), with the cluster's own
// credentials; the leaves are leafnodes of every hub member.
func TestKubernetesClusterRoutes(t *testing.T) {
	m := loadManifests(t)
	hub := findHub(t, m)
	if hub.w.replicas != 3 || hub.clusterPort == 0 {
		t.Errorf("hub: %d members, cluster port %d; want 3, routed", hub.w.replicas, hub.clusterPort)
	}
	routed := 0
	for _, w := range m.workloads {
		command := w.pod.Spec.Containers[0].Args[0]
		if command != "hub" && command != "leaf" {
			continue
		}
		routed++
		t.Run(w.name, func(t *testing.T) {
			opts := podConf(t, m, w)
			if w.kind != "StatefulSet" || !w.parallel {
				t.Errorf("%s %s: want a StatefulSet with podManagementPolicy Parallel", w.kind, w.name)
			}
			if opts.Cluster.Port == 0 || opts.Cluster.Name == "" || opts.Cluster.Username == "" || opts.Cluster.Password == "" {
				t.Fatalf("cluster %q on port %d, user %q: want a named cluster with route credentials",
					opts.Cluster.Name, opts.Cluster.Port, opts.Cluster.Username)
			}
			var routes []string
			for _, r := range opts.Routes {
				pw, _ := r.User.Password()
				if r.User.Username() != opts.Cluster.Username || pw != opts.Cluster.Password {
					t.Errorf("route %s: not the cluster's credentials", r.Redacted())
				}
				routes = append(routes, r.String())
			}
			if got, want := hostPorts(t, routes, "nats-route"), withPort(members(w), opts.Cluster.Port); !slices.Equal(got, want) {
				t.Errorf("routes %v; want one to each of the %d members %v", got, w.replicas, want)
			}
			i := slices.IndexFunc(m.services, func(s *corev1.Service) bool { return s.Name == w.service })
			if i < 0 || !m.services[i].Spec.PublishNotReadyAddresses ||
				!slices.ContainsFunc(m.services[i].Spec.Ports, func(p corev1.ServicePort) bool {
					return containerPort(w.pod.Spec.Containers[0].Ports, p.TargetPort.String()) == int32(opts.Cluster.Port)
				}) {
				t.Errorf("Service %s: want it headless, publishNotReadyAddresses, with the cluster port %d", w.service, opts.Cluster.Port)
			}
			if command == "leaf" {
				if len(opts.LeafNode.Remotes) != 1 {
					t.Fatalf("%d leafnode remotes, want 1", len(opts.LeafNode.Remotes))
				}
				var urls []string
				for _, u := range opts.LeafNode.Remotes[0].URLs {
					if u.User.Username() != "leaf" {
						t.Errorf("remote %s: want user leaf", u.Redacted())
					}
					urls = append(urls, u.String())
				}
				if got, want := hostPorts(t, urls, "nats-leaf"), withPort(hub.members, hub.leafnodes); !slices.Equal(got, want) {
					t.Errorf("leafnode remote %v; want every hub member's leafnode URL %v", got, want)
				}
			}
		})
	}
	if routed < 2 {
		t.Errorf("%d NATS server workloads, want the hub and a leaf cluster", routed)
	}
}

// checkServiceMonitors: the ServiceMonitor reaches every workload's
// scrape port, once, through a headless Service's port named metrics.
func checkServiceMonitors(t *testing.T, m *manifests) {
	t.Helper()
	if len(m.monitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(m.monitors))
	}
	sm := m.monitors[0]
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || sel.Empty() || !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"emostream"}) {
		t.Errorf("ServiceMonitor %s: selector %v, namespaces %v; want a selector, namespace emostream", sm.Name, sm.Spec.Selector,
			sm.Spec.NamespaceSelector.MatchNames)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor %s: %d endpoints, want 1", sm.Name, len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if d, err := time.ParseDuration(ep.Interval); err != nil || d <= 0 || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %+v: want path /metrics and an interval", ep)
	}
	scraped := map[string]int{}
	for _, s := range m.services {
		if !sel.Matches(labels.Set(s.Labels)) {
			continue
		}
		i := slices.IndexFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port })
		if i < 0 {
			continue
		}
		ws := m.selected(labels.SelectorFromSet(s.Spec.Selector))
		if len(ws) != 1 || s.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s, scraped on its port %s: want it headless (never exposed), of one workload", s.Name, ep.Port)
			continue
		}
		w := ws[0]
		port := containerPort(podPorts(w), s.Spec.Ports[i].TargetPort.String())
		if want := w.pod.Annotations["prometheus.io/port"]; strconv.Itoa(int(port)) != want {
			t.Errorf("Service %s port %s reaches container port %d; the pod's scrape port is %s", s.Name, ep.Port, port, want)
		}
		scraped[w.name]++
	}
	for _, w := range m.workloads {
		if scraped[w.name] != 1 {
			t.Errorf("%s %s: scraped through %d Services by the ServiceMonitor, want 1", w.kind, w.name, scraped[w.name])
		}
	}
}

// peer is a pod that may open a connection: its namespace's labels and
// its own.
type peer struct {
	what      string
	namespace map[string]string
	labels    map[string]string
}

// policyAllows evaluates the NetworkPolicies as Kubernetes does for a
// connection from p to the pod of w on its container port port: allowed
// if no policy selects w's pods, else if some rule of one that does
// admits p on port.
func policyAllows(m *manifests, p peer, w *workload, port corev1.ContainerPort) bool {
	isolated := false
	own := map[string]string{"kubernetes.io/metadata.name": "emostream"}
	for _, np := range m.policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(w.pod.Labels)) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			continue
		}
		isolated = true
		for _, r := range np.Spec.Ingress {
			portOK := len(r.Ports) == 0 || slices.ContainsFunc(r.Ports, func(rp networkingv1.NetworkPolicyPort) bool {
				return rp.Port == nil || rp.Port.Type == intstr.String && rp.Port.StrVal == port.Name ||
					rp.Port.Type == intstr.Int && rp.Port.IntVal == port.ContainerPort
			})
			peerOK := len(r.From) == 0 || slices.ContainsFunc(r.From, func(f networkingv1.NetworkPolicyPeer) bool {
				if f.IPBlock != nil {
					return false
				}
				nsOK := labels.Set(own).AsSelector().Matches(labels.Set(p.namespace)) // the policy's own namespace
				if f.NamespaceSelector != nil {
					s, err := metav1.LabelSelectorAsSelector(f.NamespaceSelector)
					nsOK = err == nil && s.Matches(labels.Set(p.namespace))
				}
				podOK := true
				if f.PodSelector != nil {
					s, err := metav1.LabelSelectorAsSelector(f.PodSelector)
					podOK = err == nil && s.Matches(labels.Set(p.labels))
				}
				return nsOK && podOK
			})
			if portOK && peerOK {
				return true
			}
		}
	}
	return !isolated
}

// TestKubernetesNetworkPaths: the NetworkPolicies let through the paths of
// the documented topology and nothing else that matters: stages to the
// hub's client port, the hub's members to each other's routes, leaves to
// the hub's leafnode port and to each other's routes, edges to the
// leaves' client port, Prometheus to every scrape port, anyone to the
// public ports (ingest's API, the edges' WebSocket), nobody to the leaves'
// own WebSocket (trusted networks only: viewers reach edges); and every
// workload is isolated by exactly one policy.
func TestKubernetesNetworkPaths(t *testing.T) {
	m := loadManifests(t)
	ns := map[string]string{"kubernetes.io/metadata.name": "emostream"}
	pods := map[string]peer{}
	for _, w := range m.workloads {
		pods[w.pod.Spec.Containers[0].Args[0]] = peer{w.name, ns, w.pod.Labels}
	}
	for _, j := range m.jobs {
		pods[j.Spec.Template.Spec.Containers[0].Args[0]] = peer{j.Name, ns, j.Spec.Template.Labels}
	}
	prometheus := peer{"Prometheus", map[string]string{"kubernetes.io/metadata.name": "monitoring"},
		map[string]string{"app.kubernetes.io/name": "prometheus"}}
	outsider := peer{"a pod of another namespace", map[string]string{"kubernetes.io/metadata.name": "default"},
		map[string]string{"app": "x"}}
	stranger := peer{"another pod of the namespace", ns, map[string]string{"app": "x"}}
	byCommand := map[string]*workload{}
	for _, w := range m.workloads {
		byCommand[w.pod.Spec.Containers[0].Args[0]] = w
		n := 0
		for _, np := range m.policies {
			if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err == nil && sel.Matches(labels.Set(w.pod.Labels)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s %s: selected by %d NetworkPolicies, want 1", w.kind, w.name, n)
		}
	}
	port := func(w *workload, name string) corev1.ContainerPort {
		i := slices.IndexFunc(podPorts(w), func(p corev1.ContainerPort) bool { return p.Name == name })
		if i < 0 {
			t.Fatalf("%s has no port %s", w.name, name)
		}
		return podPorts(w)[i]
	}
	for _, tc := range []struct {
		from   peer
		to     string
		port   string
		allows bool
	}{
		{pods["ingest"], "hub", "client", true},
		{pods["bridge"], "hub", "client", true},
		{pods["processor"], "hub", "client", true},
		{pods["match"], "hub", "client", true},
		{pods["hub"], "hub", "cluster", true},
		{pods["leaf"], "hub", "leafnodes", true},
		{pods["leaf"], "leaf", "cluster", true},
		{pods["edge"], "leaf", "nats", true},
		{outsider, "ingest", "http", true},
		{outsider, "edge", "ws", true},

		{pods["edge"], "hub", "client", false},
		{pods["leaf"], "hub", "client", false},
		{pods["ingest"], "hub", "leafnodes", false},
		{pods["ingest"], "hub", "cluster", false},
		{pods["leaf"], "hub", "cluster", false},
		{pods["hub"], "leaf", "cluster", false},
		{pods["edge"], "leaf", "cluster", false},
		{pods["ingest"], "leaf", "nats", false},
		{stranger, "hub", "client", false},
		{stranger, "hub", "monitor", false},
		{outsider, "hub", "client", false},
		{outsider, "leaf", "nats", false},
		{outsider, "leaf", "ws", false},
		{stranger, "leaf", "ws", false},
		{outsider, "ingest", "ops", false},
		{pods["ingest"], "bridge", "metrics", false},
		{outsider, "processor", "metrics", false},
	} {
		if tc.from.labels == nil {
			t.Fatalf("no pod runs the source of %+v", tc)
		}
		w := byCommand[tc.to]
		if got := policyAllows(m, tc.from, w, port(w, tc.port)); got != tc.allows {
			t.Errorf("%s → %s port %s: allowed %v, want %v", tc.from.what, w.name, tc.port, got, tc.allows)
		}
	}
	for _, w := range m.workloads {
		p, _ := strconv.Atoi(w.pod.Annotations["prometheus.io/port"])
		i := slices.IndexFunc(podPorts(w), func(c corev1.ContainerPort) bool { return int(c.ContainerPort) == p })
		if i < 0 || !policyAllows(m, prometheus, w, podPorts(w)[i]) {
			t.Errorf("Prometheus → %s scrape port %d: not allowed", w.name, p)
		}
		if i >= 0 && policyAllows(m, stranger, w, podPorts(w)[i]) {
			t.Errorf("another pod of the namespace → %s scrape port %d: allowed, want Prometheus only", w.name, p)
		}
	}
}

// anyAddress is a listen address of a pod's .conf.
var anyAddress = regexp.MustCompile(`0\.0\.0\.0:\d+`)

// TestKubernetesClustersForm runs the hub StatefulSet's 3 members and the
// leaf StatefulSet's 2 servers in-process from their ConfigMaps, each with
// its pod's environment (POD_NAME, test values for the Secrets, the routes
// and remotes with $(…) expanded) and loopback ports for the pod addresses
// (each 0.0.0.0:PORT of a member's .conf, each member-name:PORT of its
// environment): the members form a JetStream cluster, the registry Job's
// own arguments (emostream match ls --replicas=3, --nats naming every
// member) create the registry at 3 replicas, and both leaf servers route
// to each other and connect to the hub.
func TestKubernetesClustersForm(t *testing.T) {
	m := loadManifests(t)
	hub := findHub(t, m)
	i := slices.IndexFunc(m.workloads, func(w *workload) bool { return w.pod.Spec.Containers[0].Args[0] == "leaf" })
	if i < 0 || len(m.jobs) != 1 {
		t.Fatalf("want a leaf workload and the registry Job")
	}
	leaf := m.workloads[i]
	addrs := map[string]string{} // a pod's name:port → 127.0.0.1:port
	for _, w := range []*workload{hub.w, leaf} {
		for _, name := range members(w) {
			for _, p := range podPorts(w) {
				addrs[fmt.Sprintf("%s:%d", name, p.ContainerPort)] = testenv.FreeAddr()
			}
		}
	}
	loopback := func(s string) string {
		for from, to := range addrs {
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	// podConfFile writes member i's .conf and sets its environment.
	podConfFile := func(w *workload, i int) string {
		c := &w.pod.Spec.Containers[0]
		_, flags, _ := parseArgs(t, c.Args)
		name := members(w)[i]
		text := anyAddress.ReplaceAllStringFunc(mountedConf(t, m, &w.pod.Spec, flags["c"]), func(a string) string {
			to, ok := addrs[name+":"+strings.TrimPrefix(a, "0.0.0.0:")]
			if !ok {
				t.Fatalf("%s listens on %s, not a declared port", name, a)
			}
			return to
		})
		text = strings.ReplaceAll(text, `"/data/`, `"`+t.TempDir()+`/`)
		for k, v := range confEnv(t, c) {
			t.Setenv(k, loopback(v))
		}
		t.Setenv("POD_NAME", fmt.Sprintf("%s-%d", w.name, i))
		return writeConf(t, filepath.Base(flags["c"]), text)
	}

	var hubs []*fanout.Hub
	errs := make(chan error, hub.w.replicas)
	for i := range int(hub.w.replicas) {
		h, err := fanout.NewHub(fanout.HubConfig{ConfigFile: podConfFile(hub.w, i), Logger: testenv.Logger(t)})
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		t.Cleanup(h.Shutdown)
		hubs = append(hubs, h)
		go func() { errs <- h.Start() }()
	}
	for range hubs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 60*time.Second, "a JetStream meta leader among the hub's members", func() bool { return metaLeader(hubs) != nil })
	for _, h := range hubs {
		if h.Server().NumRoutes() < len(hubs)-1 {
			t.Errorf("%s: %d routes, want one to each other member", h.Server().Name(), h.Server().NumRoutes())
		}
	}

	// The registry Job, as it runs in its pod.
	job := &m.jobs[0].Spec.Template.Spec.Containers[0]
	confEnv(t, &hub.w.pod.Spec.Containers[0])
	password := os.Getenv("EMOSTREAM_ADMIN_PASSWORD")
	pwFile := filepath.Join(t.TempDir(), "nats-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range job.Args {
		if strings.HasPrefix(a, "--nats-password-file=") {
			a = "--nats-password-file=" + pwFile
		}
		args = append(args, loopback(a))
	}
	// Kubernetes runs a failed Job's pod again (backoffLimit); on a loaded
	// machine the bucket's first replicated create can outlast one run's
	// timeout while the new cluster settles, so the test does the same,
	// three times at most.
	if m.jobs[0].Spec.BackoffLimit == nil || *m.jobs[0].Spec.BackoffLimit < 2 {
		t.Fatalf("the registry Job's backoffLimit is %v, want at least 2", m.jobs[0].Spec.BackoffLimit)
	}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		cancel()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("the registry Job (emostream %s), run %d times: %v\n%s", strings.Join(args, " "), attempt, err, out)
		}
		t.Logf("the registry Job failed (run %d), as Kubernetes would, runs it again: %v\n%s", attempt, err, out)
	}
	nc, err := nats.Connect(loopback(fmt.Sprintf("nats://%s:%d", hub.members[0], hub.client)), nats.UserInfo("admin", password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "KV_EMOSTREAM_MATCHES")
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Errorf("the registry: %d replicas, cluster %+v; want 3, on every member", info.Config.Replicas, info.Cluster)
	}

	var leaves []*fanout.Leaf
	for i := range int(leaf.replicas) {
		l, err := fanout.NewLeaf(fanout.LeafConfig{ConfigFile: podConfFile(leaf, i), Logger: testenv.Logger(t)})
		if err != nil {
			t.Fatalf("leaf server %d: %v", i, err)
		}
		if err := l.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Shutdown)
		leaves = append(leaves, l)
	}
	testenv.WaitFor(t, 30*time.Second, "both leaf servers routed and connected to the hub", func() bool {
		n := 0
		for _, h := range hubs {
			n += h.Server().NumLeafNodes()
		}
		for _, l := range leaves {
			if l.Server().NumRoutes() < len(leaves)-1 || l.Server().NumLeafNodes() != 1 {
				return false
			}
		}
		return n == len(leaves)
	})
}
