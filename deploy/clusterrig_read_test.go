package deploy

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestClusterRigReadsWithoutConsumers: the rig reads the stored swarms
// back (sums and windows stored twice) without creating a consumer, so
// that no read can be placed on a hub member that was just killed
// (TestHubClusterStockServer kills one with -9, and the meta leader still
// counts it as live for a few heartbeats).
func TestClusterRigReadsWithoutConsumers(t *testing.T) {
	s := testenv.StartStreams(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.UnixMilli(1795410000000)
	for _, sw := range []wire.Swarm{
		{MatchID: "c1", WindowStart: t0, Total: 3},
		{MatchID: "c2", WindowStart: t0, Total: 5},
		{MatchID: "c1", WindowStart: t0.Add(rigWindow), Total: 4},
		{MatchID: "c1", WindowStart: t0.Add(rigWindow), Total: 4}, // the same window again
	} {
		sw.WindowEnd, sw.Counts = sw.WindowStart.Add(rigWindow), map[string]int64{"🔥": sw.Total}
		b, err := sw.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.JS.Publish(ctx, wire.SwarmSubject(sw.MatchID), b); err != nil { // no message ID: the duplicate is stored
			t.Fatal(err)
		}
	}
	r := &clusterRig{t: t, harness: s.JS}
	sums, dups, err := r.stored()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"c1": 11, "c2": 5}; !equalSums(sums, want) {
		t.Errorf("sums %v, want %v", sums, want)
	}
	if want := []string{wire.SwarmMsgID("c1", t0.Add(rigWindow).UnixMilli())}; !slices.Equal(dups, want) {
		t.Errorf("windows stored twice %v, want %v", dups, want)
	}
	info, err := s.JS.Stream(ctx, wire.SwarmsStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Consumers; n != 0 {
		t.Errorf("%s has %d consumers after the read, want none", wire.SwarmsStream, n)
	}
}
