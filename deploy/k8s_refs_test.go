package deploy

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// selected returns the workloads whose pods sel selects.
func (m *manifests) selected(sel labels.Selector) []*workload {
	var ws []*workload
	for _, w := range m.workloads {
		if sel.Matches(labels.Set(w.pod.Labels)) {
			ws = append(ws, w)
		}
	}
	return ws
}

// checkServices: each Service selects one workload and targets its ports;
// a StatefulSet's serviceName is a headless Service.
func checkServices(t *testing.T, m *manifests) {
	t.Helper()
	for _, s := range m.services {
		ws := m.selected(labels.SelectorFromSet(s.Spec.Selector))
		if len(s.Spec.Selector) == 0 || len(ws) != 1 {
			t.Errorf("Service %s selects %d workloads, want 1", s.Name, len(ws))
			continue
		}
		for _, p := range s.Spec.Ports {
			if !hasPort(podPorts(ws[0]), p.TargetPort) {
				t.Errorf("Service %s port %s: targetPort %s is not a port of %s", s.Name, p.Name, p.TargetPort.String(), ws[0].name)
			}
		}
	}
	for _, w := range m.workloads {
		if w.kind != "StatefulSet" {
			continue
		}
		i := slices.IndexFunc(m.services, func(s *corev1.Service) bool { return s.Name == w.service })
		if i < 0 || m.services[i].Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("StatefulSet %s: serviceName %q is not a headless Service", w.name, w.service)
		}
	}
}

// podPorts are the ports of every container of w's pod.
func podPorts(w *workload) []corev1.ContainerPort {
	var ports []corev1.ContainerPort
	for _, c := range w.pod.Spec.Containers {
		ports = append(ports, c.Ports...)
	}
	return ports
}

// checkBudgets: each workload has a disruption budget that selects it
// alone and lets a drain proceed; the hub, whose JetStream needs a quorum
// of its members, loses at most a minority.
func checkBudgets(t *testing.T, m *manifests) {
	t.Helper()
	covered := map[string]bool{}
	for _, b := range m.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		ws := m.selected(sel)
		if err != nil || sel.Empty() || len(ws) != 1 {
			t.Errorf("PodDisruptionBudget %s selects %d workloads, want 1 (%v)", b.Name, len(ws), err)
			continue
		}
		if b.Spec.MaxUnavailable == nil || b.Spec.MaxUnavailable.Type != intstr.Int || b.Spec.MaxUnavailable.IntValue() < 1 {
			t.Errorf("PodDisruptionBudget %s: want maxUnavailable ≥ 1 (a number), so node drains proceed", b.Name)
		} else if w := ws[0]; w.pod.Spec.Containers[0].Args[0] == "hub" && int32(b.Spec.MaxUnavailable.IntValue()) > w.replicas-(w.replicas/2+1) {
			t.Errorf("PodDisruptionBudget %s: maxUnavailable %d of %d members breaks the quorum", b.Name,
				b.Spec.MaxUnavailable.IntValue(), w.replicas)
		}
		if covered[ws[0].name] {
			t.Errorf("%s %s has two PodDisruptionBudgets", ws[0].kind, ws[0].name)
		}
		covered[ws[0].name] = true
	}
	for _, w := range m.workloads {
		if !covered[w.name] {
			t.Errorf("%s %s has no PodDisruptionBudget", w.kind, w.name)
		}
	}
}

// checkPolicies: a NetworkPolicy selects a workload and names its ports.
func checkPolicies(t *testing.T, m *manifests) {
	t.Helper()
	for _, np := range m.policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		ws := m.selected(sel)
		if err != nil || len(ws) != 1 {
			t.Errorf("NetworkPolicy %s selects %d workloads, want 1", np.Name, len(ws))
			continue
		}
		for _, r := range np.Spec.Ingress {
			for _, p := range r.Ports {
				if p.Port == nil || !hasPort(podPorts(ws[0]), *p.Port) {
					t.Errorf("NetworkPolicy %s: port %v is not a port of %s", np.Name, p.Port, ws[0].name)
				}
			}
		}
	}
}

// kustomization is the part of kustomization.yaml the manifests use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

// TestKustomization: kubectl apply -k deploy/k8s applies every manifest of
// deploy/k8s, in the namespace namespace.yaml creates, with the image set
// under images; deploy/k8s/servicemonitor applies its own.
func TestKustomization(t *testing.T) {
	m := loadManifests(t)
	dirs := map[string][]string{}
	for _, f := range m.files {
		dir, _ := filepath.Split(f)
		dirs[dir] = append(dirs[dir], strings.TrimPrefix(f, dir))
	}
	for dir, files := range dirs {
		b, err := os.ReadFile(filepath.Join("k8s", dir, "kustomization.yaml"))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		var k kustomization
		if err := yaml.UnmarshalStrict(b, &k); err != nil {
			t.Fatalf("k8s/%skustomization.yaml: %v", dir, err)
		}
		if got := slices.Sorted(slices.Values(k.Resources)); !slices.Equal(got, files) || k.Namespace != "emostream" {
			t.Errorf("k8s/%skustomization.yaml: namespace %q, resources %v; want emostream, every manifest %v", dir, k.Namespace, got, files)
		}
		if dir != "" {
			continue
		}
		image, tag, _ := strings.Cut(placeholderImage, ":")
		if len(k.Images) != 1 || k.Images[0].Name != image || k.Images[0].NewName == "" || k.Images[0].NewTag != tag {
			t.Errorf("k8s/kustomization.yaml: images %+v; want %s with newName and newTag (the ones to set)", k.Images, placeholderImage)
		}
	}
	if len(dirs) != 2 {
		t.Errorf("manifests in %d directories %v; want deploy/k8s and deploy/k8s/servicemonitor", len(dirs), slices.Sorted(maps.Keys(dirs)))
	}
}
