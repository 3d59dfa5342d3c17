package processor

import "testing"

func (r *rig) dump(t *testing.T, n int) {
	for i := range n {
		sw := r.viewer.swarm("m1", pastWindow(i))
		if sw == nil {
			t.Logf("window %d: none", i)
			continue
		}
		t.Logf("window %d: %s parts %d total %d late %d offsets %v", i, sw.ClosedBy, sw.Partitions, sw.Total, sw.Late, sw.Offsets)
	}
}
