package chaos

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestFaultSequence is the short version that runs in CI: one cluster, one
// seeded order of faults that kills every stage once and pauses ingest past
// the client timeout, under load, then accounts for every event.
// EMOSTREAM_CHAOS_SEED changes the seed (default 1).
func TestFaultSequence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes and runs for about a minute")
	}
	seed := uint64(1)
	if s := os.Getenv("EMOSTREAM_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	r := newRun(t, seed, nil)
	faults := []fault{{stage: stIngest}, {stage: stBridge}, {stage: stProcessor}, {stage: stKafka},
		{stage: stHub}, {stage: stLeaf}, {stage: stIngest, pause: clientTimeout + time.Second}}
	r.rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	stop := r.loadDuring(ctx, 5000, 20)
	for _, f := range faults {
		r.gap(50, 150)
		r.inject(ctx, f)
	}
	r.gap(50, 100)
	stop()
	r.settle(ctx)
	r.finish("sequence: every stage killed once, ingest paused")
}
