//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// The long runs: go test -tags chaos -run . -timeout 2h ./chaos
// (EMOSTREAM_CHAOS_SEEDS=1,2,3 by default; EMOSTREAM_CHAOS_REPORT=file
// appends each run's row of docs/reliability.md's table).

// longFaults are each applied alone, to a fresh cluster, once per seed.
// Pauses are longer than the timeout of whoever waits on the stage: the
// HTTP client (3s), ingest's produce timeout (5s), the consumer group's
// session timeout (10s), the processor's pinned TTL (5s).
var longFaults = []fault{
	{stage: stIngest}, {stage: stKafka}, {stage: stBridge}, {stage: stProcessor}, {stage: stHub}, {stage: stLeaf},
	{stage: stIngest, pause: 5 * time.Second},
	{stage: stKafka, pause: 7 * time.Second},
	{stage: stBridge, pause: 12 * time.Second},
	{stage: stProcessor, pause: 7 * time.Second},
	{stage: stHub, pause: 5 * time.Second},
	{stage: stLeaf, pause: 5 * time.Second},
}

func TestLongFaults(t *testing.T) {
	for _, f := range longFaults {
		for _, seed := range seeds(t, "1,2,3") {
			t.Run(fmt.Sprintf("%s/seed%d", f, seed), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				r := newRun(t, seed, nil)
				r.underLoad(ctx, f.String(), func() { r.inject(ctx, f) })
			})
		}
	}
}

// TestProcessorDownPastDedupWindow keeps the processor down for longer than
// the swarm stream's Nats-Msg-Id window (2 minutes: neither the bridge nor
// the processor has a flag for streams.Config.Duplicates, and both re-apply
// the default on start), under load, so that recovery cannot rely on it.
func TestProcessorDownPastDedupWindow(t *testing.T) {
	for _, seed := range seeds(t, "1") {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			r := newRun(t, seed, nil)
			stop := r.loadDuring(ctx, 3000, 5)
			r.gap(100, 300)
			p := r.c.procs[stProcessor]
			t0 := time.Now()
			p.pause() // SIGSTOP first: its last publishes are in flight, as in a crash
			p.kill()
			// Down until the dedup window has passed with load going on.
			testenv.Until(3*time.Minute, func() bool { return time.Since(t0) > 2*time.Minute+10*time.Second })
			p.start()
			r.c.waitReady(stProcessor, 90*time.Second)
			r.recovery = append(r.recovery, r.probe(ctx, t0))
			r.gap(100, 200)
			stop()
			r.settle(ctx)
			r.finish("processor down 130s (> 2 min dedup window)")
		})
	}
}
