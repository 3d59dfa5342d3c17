package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// placeholderImage is the image every container names; kustomization.yaml
// sets the real one.
const placeholderImage = "ghcr.io/example/emostream:VERSION"

// kinds are the only types the manifests may hold, by apiVersion/kind.
var kinds = map[string]func() any{
	"v1/Namespace":                            func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                            func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &serviceMonitor{} },
}

// manifests is every object of deploy/k8s, decoded.
type manifests struct {
	files      []string
	configMaps map[string]*corev1.ConfigMap
	services   []*corev1.Service
	workloads  []*workload
	jobs       []*batchv1.Job
	pdbs       []*policyv1.PodDisruptionBudget
	policies   []*networkingv1.NetworkPolicy
	monitors   []*serviceMonitor
}

// workload is a Deployment or StatefulSet.
type workload struct {
	kind, name string
	replicas   int32
	selector   *metav1.LabelSelector
	pod        *corev1.PodTemplateSpec
	claims     []corev1.PersistentVolumeClaim
	service    string // a StatefulSet's serviceName
	parallel   bool   // a StatefulSet's podManagementPolicy is Parallel
}

// loadManifests decodes every document of deploy/k8s/*.yaml and of its
// kustomizations below (servicemonitor/) strictly (an unknown or repeated
// field is an error) into its k8s.io/api type, or this test's type of a
// custom resource.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	more, err2 := filepath.Glob(filepath.Join("k8s", "*", "*.yaml"))
	if err != nil || err2 != nil || len(paths) == 0 {
		t.Fatalf("no manifests in k8s/: %v %v", err, err2)
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
	for _, p := range append(paths, more...) {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		m.files = append(m.files, filepath.ToSlash(strings.TrimPrefix(p, "k8s"+string(filepath.Separator))))
		for i, doc := range documents(t, p) {
			obj, err := decode(doc)
			if err != nil {
				t.Fatalf("%s, document %d: %v", p, i+1, err)
			}
			m.add(obj)
		}
	}
	return m
}

// documents splits a YAML file into its non-empty documents.
func documents(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func decode(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, errors.New("unexpected kind " + tm.APIVersion + "/" + tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func (m *manifests) add(obj any) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		m.configMaps[o.Name] = o
	case *corev1.Service:
		m.services = append(m.services, o)
	case *appsv1.Deployment:
		m.workloads = append(m.workloads, &workload{kind: "Deployment", name: o.Name, replicas: replicas(o.Spec.Replicas),
			selector: o.Spec.Selector, pod: &o.Spec.Template})
	case *appsv1.StatefulSet:
		m.workloads = append(m.workloads, &workload{kind: "StatefulSet", name: o.Name, replicas: replicas(o.Spec.Replicas),
			selector: o.Spec.Selector, pod: &o.Spec.Template, claims: o.Spec.VolumeClaimTemplates, service: o.Spec.ServiceName,
			parallel: o.Spec.PodManagementPolicy == appsv1.ParallelPodManagement})
	case *batchv1.Job:
		m.jobs = append(m.jobs, o)
	case *policyv1.PodDisruptionBudget:
		m.pdbs = append(m.pdbs, o)
	case *networkingv1.NetworkPolicy:
		m.policies = append(m.policies, o)
	case *serviceMonitor:
		m.monitors = append(m.monitors, o)
	}
}

func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// stageReplicas is how many pods each stage runs, at least (ingest, edge,
// bridge: any number; a leaf cluster: two servers or more, routed to each
// other; the processor: one active, one hot standby) or exactly (the hub:
// a 3-member JetStream cluster, as deploy/hub-{1,2,3}.conf).
var stageReplicas = map[string]struct {
	kind     string
	min, max int32
}{
	"ingest":    {"Deployment", 2, 1 << 20},
	"bridge":    {"Deployment", 2, 1 << 20},
	"processor": {"Deployment", 2, 2},
	"leaf":      {"StatefulSet", 2, 1 << 20},
	"edge":      {"Deployment", 2, 1 << 20},
	"hub":       {"StatefulSet", 3, 3},
}

// TestKubernetesManifests checks every workload of deploy/k8s: what its
// containers run (flags the binary defines, the stage's own NATS user),
// where they listen and are probed, their limits and security context,
// and that Services, disruption budgets and network policies select them.
func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	seen := map[string]bool{}
	for _, w := range m.workloads {
		t.Run(w.name, func(t *testing.T) {
			stage := checkWorkload(t, m, w)
			seen[stage] = true
		})
	}
	for stage := range stageReplicas {
		if !seen[stage] {
			t.Errorf("no workload runs emostream %s", stage)
		}
	}
	for _, j := range m.jobs {
		t.Run(j.Name, func(t *testing.T) { checkJob(t, j) })
	}
	checkServices(t, m)
	checkBudgets(t, m)
	checkPolicies(t, m)
	checkServiceMonitors(t, m)
}

// checkWorkload checks w and returns the emostream command it runs.
func checkWorkload(t *testing.T, m *manifests, w *workload) string {
	sel, err := metav1.LabelSelectorAsSelector(w.selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(w.pod.Labels)) {
		t.Errorf("selector %v does not select the pod template's labels %v (%v)", w.selector, w.pod.Labels, err)
	}
	checkPodSecurity(t, &w.pod.Spec)
	// emostream, and beside a NATS server its Prometheus exporter.
	if n := len(w.pod.Spec.Containers); n < 1 || n > 2 {
		t.Fatalf("%d containers, want emostream (and an exporter)", n)
	}
	c := &w.pod.Spec.Containers[0]
	command, flags, err := parseArgs(t, c.Args)
	if err != nil {
		t.Errorf("container %s args: %v", c.Name, err)
	}
	want, ok := stageReplicas[command]
	if !ok || w.kind != want.kind || w.replicas < want.min || w.replicas > want.max {
		t.Errorf("emostream %s as a %s of %d replicas; want a %s of %d to %d", command, w.kind, w.replicas, want.kind, want.min, want.max)
	}
	checkContainer(t, c)
	checkCredentials(t, command, flags, c)
	checkEdgeFlags(t, command, flags, "")
	if command == "edge" {
		checkEdgeUpstream(t, m, flags)
	}
	checkFiles(t, &w.pod.Spec, flags)
	checkEnv(t, c)
	ln := listeners(t, m, w, flags)
	checkPorts(t, c, ln)
	checkProbes(t, command, c)
	var exporter *corev1.Container
	if len(w.pod.Spec.Containers) == 2 {
		exporter = &w.pod.Spec.Containers[1]
		checkExporter(t, command, exporter, ln)
	}
	checkScrape(t, w, command, flags, ln, exporter)
	checkHubMembers(t, m, w, command, flags)
	return command
}

// checkJob checks a Job's pod as a workload's, without ports or probes.
func checkJob(t *testing.T, j *batchv1.Job) {
	p := &j.Spec.Template.Spec
	checkPodSecurity(t, p)
	if len(p.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(p.Containers))
	}
	command, flags, err := parseArgs(t, p.Containers[0].Args)
	if err != nil {
		t.Errorf("args: %v", err)
	}
	if _, ok := stageUsers[command]; !ok {
		t.Errorf("emostream %s: not a command this test knows the NATS user of", command)
	}
	checkContainer(t, &p.Containers[0])
	checkCredentials(t, command, flags, &p.Containers[0])
	checkFiles(t, p, flags)
	checkJobHubMembers(t, j, command, flags)
	checkEnv(t, &p.Containers[0])
}

func checkPodSecurity(t *testing.T, p *corev1.PodSpec) {
	t.Helper()
	sc := p.SecurityContext
	if sc == nil || !isTrue(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser == 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, a non-root runAsUser and the RuntimeDefault seccomp profile", sc)
	}
	// Service links would put EMOSTREAM_HUB_PORT and the like into the
	// environment, where every flag's EMOSTREAM_… fallback may read them.
	if p.EnableServiceLinks == nil || *p.EnableServiceLinks {
		t.Error("enableServiceLinks: want false")
	}
	if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken: want false (no stage talks to the API server)")
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func checkContainer(t *testing.T, c *corev1.Container) {
	t.Helper()
	if c.Image != placeholderImage || len(c.Command) > 0 {
		t.Errorf("image %q, command %q: want %s and its entrypoint", c.Image, c.Command, placeholderImage)
	}
	checkHardening(t, c)
}

// checkHardening: the container's security context and resources.
func checkHardening(t *testing.T, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !isTrue(sc.ReadOnlyRootFilesystem) ||
		isTrue(sc.Privileged) || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) > 0 {
		t.Errorf("container securityContext %+v: want no privilege escalation, a read-only root filesystem, capabilities: drop ALL", sc)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim || req.Sign() <= 0 || req.Cmp(lim) > 0 {
			t.Errorf("resources %s: request %v, limit %v; want both, request ≤ limit", r, req.String(), lim.String())
		}
	}
}

// stageUsers are the hub users of the stages (docs/operations.md, "Stage
// credentials"): each stage connects as its own.
var stageUsers = map[string]string{"ingest": "ingest", "bridge": "bridge", "processor": "processor", "match ls": "admin",
	"edge": "edge"}

// checkCredentials: a stage connects to the hub as its own user with a
// password file, and to Kafka as its own SASL user with its password in a
// file or in EMOSTREAM_KAFKA_PASSWORD from a Secret (one of them: the
// stage refuses both); no secret is a flag. c is the container, nil for a
// systemd unit.
func checkCredentials(t *testing.T, command string, flags map[string]string, c *corev1.Container) {
	t.Helper()
	user, ok := stageUsers[command]
	if !ok {
		return
	}
	if flags["nats-user"] != user || flags["nats-password-file"] == "" {
		t.Errorf("emostream %s: --nats-user=%q --nats-password-file=%q; want user %q and a password file",
			command, flags["nats-user"], flags["nats-password-file"], user)
	}
	inEnv := c != nil && slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "EMOSTREAM_KAFKA_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
	})
	if u := flags["kafka-user"]; u != "" && (u != "emostream-"+command || (flags["kafka-password-file"] == "") == !inEnv) {
		t.Errorf("emostream %s: --kafka-user=%q: want emostream-%s with --kafka-password-file or EMOSTREAM_KAFKA_PASSWORD "+
			"from a Secret (one of them)", command, u, command)
	}
	if flags["kafka-brokers"] != "" && c != nil && (flags["kafka-sasl"] != "scram-sha-512" || flags["kafka-ca"] == "") {
		t.Errorf("emostream %s: Kafka --kafka-sasl=%q --kafka-ca=%q; want SASL_SSL: scram-sha-512 and the brokers' CA from the Secret",
			command, flags["kafka-sasl"], flags["kafka-ca"])
	}
}

// checkFiles: every file a flag names is on a mounted volume, and a file
// of a Secret volume that lists its items is one of them.
func checkFiles(t *testing.T, p *corev1.PodSpec, flags map[string]string) {
	t.Helper()
	for name, v := range flags {
		if !strings.HasPrefix(v, "/") {
			continue
		}
		vol := mountedVolume(p, filepath.Dir(v))
		switch {
		case vol == nil:
			t.Errorf("--%s=%s: no volume is mounted at %s", name, v, filepath.Dir(v))
		case vol.Secret != nil && len(vol.Secret.Items) > 0 &&
			!slices.ContainsFunc(vol.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == filepath.Base(v) }):
			t.Errorf("--%s=%s: Secret %s projects no %s", name, v, vol.Secret.SecretName, filepath.Base(v))
		case vol.Secret != nil && (vol.Secret.DefaultMode == nil || *vol.Secret.DefaultMode&0o037 != 0):
			t.Errorf("Secret volume %s: defaultMode %v, want 0440 or tighter", vol.Name, vol.Secret.DefaultMode)
		}
	}
}

// mountedVolume is the volume mounted at dir in the (only) container.
func mountedVolume(p *corev1.PodSpec, dir string) *corev1.Volume {
	for _, vm := range p.Containers[0].VolumeMounts {
		if vm.MountPath != dir || vm.SubPath != "" {
			continue
		}
		for i := range p.Volumes {
			if p.Volumes[i].Name == vm.Name {
				return &p.Volumes[i]
			}
		}
	}
	return nil
}

// envAllowed are the only variables a container sets: flags are given as
// flags, and the environment carries only what nats-server .conf files
// read (their secrets, routes, remotes and the pod name) and the Kafka
// password, which is never a flag.
var envAllowed = map[string]bool{"POD_NAME": true, "EMOSTREAM_LEAF_REMOTE": true, "EMOSTREAM_LEAF_PASSWORD": true,
	"EMOSTREAM_INGEST_PASSWORD": true, "EMOSTREAM_BRIDGE_PASSWORD": true, "EMOSTREAM_PROCESSOR_PASSWORD": true,
	"EMOSTREAM_ADMIN_PASSWORD": true, "EMOSTREAM_EDGE_PASSWORD": true, "EMOSTREAM_MONITOR_PASSWORD": true, "EMOSTREAM_ROUTE_PASSWORD": true,
	"EMOSTREAM_HUB_ROUTES": true, "EMOSTREAM_LEAF_ROUTES": true, "EMOSTREAM_KAFKA_PASSWORD": true}

func checkEnv(t *testing.T, c *corev1.Container) {
	t.Helper()
	if len(c.EnvFrom) > 0 {
		t.Error("envFrom: name each variable")
	}
	for _, e := range c.Env {
		if !envAllowed[e.Name] {
			t.Errorf("env %s: give settings as flags; the environment only carries the .conf secrets %v", e.Name, envAllowed)
		}
		if strings.HasSuffix(e.Name, "_PASSWORD") && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("env %s: want a secretKeyRef, not a value", e.Name)
		}
	}
}

// listener is an address a container's process listens on.
type listener struct {
	what string
	host string
	port int32
}

// checkPorts: every declared container port is one the process listens on,
// on every interface (a pod's loopback is out of reach of probes and
// Services), and no two declared ports are the same.
func checkPorts(t *testing.T, c *corev1.Container, ln []listener) {
	t.Helper()
	seen := map[int32]bool{}
	for _, p := range c.Ports {
		if errs := validation.IsValidPortName(p.Name); len(errs) > 0 || seen[p.ContainerPort] {
			t.Errorf("port %s/%d: bad name %v or declared twice", p.Name, p.ContainerPort, errs)
		}
		seen[p.ContainerPort] = true
		i := slices.IndexFunc(ln, func(l listener) bool { return l.port == p.ContainerPort })
		switch {
		case i < 0:
			t.Errorf("port %s (%d): the process listens on no such port (it listens on %v)", p.Name, p.ContainerPort, ln)
		case ln[i].host != "0.0.0.0" && ln[i].host != "" && ln[i].host != "::":
			t.Errorf("port %s (%d): %s listens on %s only", p.Name, p.ContainerPort, ln[i].what, ln[i].host)
		}
	}
}

// listenFlags are the flags that name an address a command listens on.
var listenFlags = map[string][]string{
	"ingest":    {"listen", "ops"},
	"bridge":    {"ops"},
	"processor": {"ops"},
	"hub":       {"nats", "leafnodes", "monitor"},
	"leaf":      {"ws", "leafnodes", "monitor", "pprof"},
	"edge":      {"listen", "ops", "pprof"},
}

// listeners lists where the container's process listens: its address
// flags, or with -c the addresses of the .conf it loads.
func listeners(t *testing.T, m *manifests, w *workload, flags map[string]string) []listener {
	t.Helper()
	if conf, ok := flags["c"]; ok {
		return confListeners(t, m, w, conf)
	}
	var ln []listener
	for _, f := range listenFlags[w.pod.Spec.Containers[0].Args[0]] {
		if v, ok := flags[f]; ok {
			ln = append(ln, parseListener(t, "--"+f, v))
		}
	}
	return ln
}

func parseListener(t *testing.T, what, addr string) listener {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.ParseInt(port, 10, 32)
	if err != nil || perr != nil {
		t.Errorf("%s=%s: want host:port", what, addr)
	}
	return listener{what: what, host: host, port: int32(n)}
}

// checkProbes: readiness and liveness probes on the stage's real endpoints,
// through declared ports.
func checkProbes(t *testing.T, command string, c *corev1.Container) {
	t.Helper()
	want := map[string][2]string{ // readiness, liveness
		"ingest": {"/readyz", "/healthz"}, "bridge": {"/readyz", "/healthz"}, "processor": {"/readyz", "/healthz"},
		"hub": {"/healthz", "/healthz"}, "leaf": {"/healthz", "/healthz"},
		"edge": {"/readyz", "/healthz"},
	}[command]
	for i, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		what := [2]string{"readinessProbe", "livenessProbe"}[i]
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", what)
			continue
		}
		if path, _, _ := strings.Cut(p.HTTPGet.Path, "?"); path != want[i] {
			t.Errorf("%s path %s, want %s", what, p.HTTPGet.Path, want[i])
		}
		if !hasPort(c.Ports, p.HTTPGet.Port) {
			t.Errorf("%s port %s is not a declared container port", what, p.HTTPGet.Port.String())
		}
	}
	if p := c.StartupProbe; p != nil && (p.HTTPGet == nil || !hasPort(c.Ports, p.HTTPGet.Port)) {
		t.Errorf("startupProbe: want an httpGet probe on a declared port")
	}
}

func hasPort(ports []corev1.ContainerPort, p intstr.IntOrString) bool {
	return slices.ContainsFunc(ports, func(c corev1.ContainerPort) bool {
		return p.Type == intstr.String && c.Name == p.StrVal || p.Type == intstr.Int && c.ContainerPort == p.IntVal
	})
}
