package processor

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// A partial of an ordinary window that an older bridge published with one
// record of a negative received_at (another producer's) counted late under
// its window, before year 0000, is merged whole: late_windows keys are
// numbers any swarm can encode (refusing the partial dropped all of it).
func TestLateWindowBeforeYear0IsMerged(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	r.processor(Config{Registerer: prometheus.NewRegistry()})
	neg := wire.WindowStart(-9_000_000_000_000_000, winMs)
	r.publishPartial(&wire.Partial{Partition: 0, WindowStartMs: pastWindow(0), WindowMs: winMs,
		Counts:     wire.Counts{"m1": {"🔥": 500}},
		LateCounts: map[int64]wire.Counts{neg: {"m1": {"🔥": 1}}}})
	r.publish(0, pastWindow(1), winMs, wire.Counts{"m1": {"🔥": 3}})
	r.exact(timeout / 3)
}
