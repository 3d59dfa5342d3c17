//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

// A real Kafka node paused for 400 ms right at the end of a window, again
// and again, under load: the records in flight on its partitions reach
// the bridge after their window closed there (the close delay is 100 ms),
// so their swarm counts them late. Every acked event must still be counted
// in the window its 202 named, in the swarms (late_windows) and in the
// timeline by named window:
//
//	go test -tags chaos -run TestRealKafkaPauseAtWindowEnd -timeout 30m ./chaos
func TestRealKafkaPauseAtWindowEnd(t *testing.T) {
	const pauses, pause = 8, 400 * time.Millisecond
	for _, seed := range seeds(t, "1") {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			r, rk := newRealRun(t, seed)
			stop := r.loadDuring(ctx, 3000, 20)
			r.gap(100, 200)
			for i := range pauses {
				id, err := rk.Leader(wire.DefaultTopic, int32(i%chaosPartitions))
				if err != nil {
					t.Fatal(err)
				}
				n := rk.Node(id)
				// The fault's timing: 50 ms before a window's end, for 400 ms,
				// so the window's last produces wait for the node.
				end := wire.NextBoundary(time.Now().Add(time.Second), wire.DefaultWindow)
				wait(ctx, time.Until(end.Add(-50*time.Millisecond)))
				n.Pause()
				wait(ctx, pause)
				n.Resume()
				r.gap(20, 60)
			}
			stop()
			r.settle(ctx)
			tl := r.finish(fmt.Sprintf("real Kafka ×3: %d pauses of %v at a window's end", pauses, pause))
			if tl.Windows202.CountedLate == 0 {
				t.Logf("no event came late: the pauses missed the windows' last produces")
			}
		})
	}
}

// wait waits d, the length or the moment of a fault, or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
