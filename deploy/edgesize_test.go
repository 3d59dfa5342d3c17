package deploy

import (
	"strconv"
	"testing"
	"time"

	"github.com/emostream/emostream/capacity"
)

// TestKubernetesEdgeFitsItsViewers: an edge pod's limits hold the viewers
// its --max-connections admits, by the capacity model's measured unit
// costs (docs/capacity.md): one swarm written to every viewer within
// capacity.EdgeBroadcastBudget on its CPU limit, and its RSS plus the
// kernel's memory per socket within its memory limit. A CPU limit below
// that throttles every broadcast past the delivery budget at full load.
func TestKubernetesEdgeFitsItsViewers(t *testing.T) {
	m := loadManifests(t)
	w := workloadOf(t, m, "edge")
	c := &w.pod.Spec.Containers[0]
	_, flags, err := parseArgs(t, c.Args)
	if err != nil {
		t.Fatal(err)
	}
	viewers, err := strconv.ParseFloat(flags["max-connections"], 64)
	if err != nil || viewers <= 0 {
		t.Fatalf("--max-connections=%q: want it set", flags["max-connections"])
	}
	cpu, mem := c.Resources.Limits.Cpu().AsApproximateFloat64(), c.Resources.Limits.Memory().AsApproximateFloat64()
	if cpu == 0 || mem == 0 {
		t.Fatalf("edge limits %v: want a CPU and a memory limit", c.Resources.Limits)
	}
	broadcast := time.Duration(viewers * capacity.EdgeCPUPerDeliveryUS / cpu * float64(time.Microsecond))
	if broadcast > capacity.EdgeBroadcastBudget {
		t.Errorf("--max-connections=%.0f on a CPU limit of %g: a broadcast takes %v, over the %v budget (%.0f cores, or at most %.0f viewers)",
			viewers, cpu, broadcast, capacity.EdgeBroadcastBudget,
			viewers*capacity.EdgeCPUPerDeliveryUS/float64(capacity.EdgeBroadcastBudget.Microseconds()),
			cpu*float64(capacity.EdgeBroadcastBudget.Microseconds())/capacity.EdgeCPUPerDeliveryUS)
	}
	need := capacity.EdgeRSSMiB*(1<<20) + viewers*(capacity.EdgeRSSPerViewerKiB+capacity.KernelPerConnKiB)*(1<<10)
	if need > mem {
		t.Errorf("--max-connections=%.0f needs %.0f MiB (RSS and sockets), over the memory limit of %.0f MiB", viewers, need/(1<<20), mem/(1<<20))
	}
}
