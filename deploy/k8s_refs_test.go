package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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
			if !hasPort(ws[0].pod.Spec.Containers[0].Ports, p.TargetPort) {
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

// checkBudgets: each workload of several replicas has a disruption budget
// that selects it alone and lets a drain proceed.
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
		if b.Spec.MaxUnavailable == nil || b.Spec.MaxUnavailable.IntValue() < 1 {
			t.Errorf("PodDisruptionBudget %s: want maxUnavailable ≥ 1, so node drains proceed", b.Name)
		}
		covered[ws[0].name] = true
	}
	for _, w := range m.workloads {
		if w.replicas > 1 && !covered[w.name] {
			t.Errorf("%s %s has %d replicas and no PodDisruptionBudget", w.kind, w.name, w.replicas)
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
				if p.Port == nil || !hasPort(ws[0].pod.Spec.Containers[0].Ports, *p.Port) {
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

// TestKustomization: kubectl apply -k deploy/k8s applies every manifest,
// in the namespace namespace.yaml creates, with the placeholder image.
func TestKustomization(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("k8s", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	m := loadManifests(t)
	if got := slices.Sorted(slices.Values(k.Resources)); !slices.Equal(got, m.files) {
		t.Errorf("kustomization.yaml resources %v, want every manifest %v", got, m.files)
	}
	image, tag, _ := strings.Cut(placeholderImage, ":")
	if len(k.Images) != 1 || k.Images[0].Name != image || k.Images[0].NewTag != tag || k.Namespace != "emostream" {
		t.Errorf("kustomization.yaml: namespace %q, images %+v; want emostream, %s", k.Namespace, k.Images, placeholderImage)
	}
}
