package capacity

import (
	"runtime"
	"testing"

	"github.com/emostream/emostream/wire"
)

// The costliest load the bounds allow, planned with the most steps
// "emostream plan" takes, allocates a bounded few megabytes: the message
// sizes are not found by building a partial of every match in every video
// window (10,000 × 31 × 12 counts, half a gigabyte, for each step) nor a
// swarm of every partition for each sizing round.
func TestPlanCostIsBounded(t *testing.T) {
	l := Load{Viewers: MaxViewers, Reactions: MaxReactions, Regions: 1, Matches: MaxMatches, VideoSpread: wire.MaxVideoLag}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := StepsTo(l, 6); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	const most = 64 << 20
	if got := after.TotalAlloc - before.TotalAlloc; got > most {
		t.Errorf("StepsTo(%+v, 6) allocated %d MiB, want at most %d", l, got>>20, most>>20)
	}
}

// SwarmBytes and PartialBytes, summed from two entries, equal the real
// encoders' sizes on either side of each digit boundary.
func TestSizesByEntries(t *testing.T) {
	for _, windows := range []int{0, 1, 30} {
		for _, n := range []int{0, 1, 2, 3, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 1234} {
			if got, want := SwarmBytes(n, windows), swarmBytes(n, n, windows); got != want {
				t.Errorf("SwarmBytes(%d, %d) = %d, encoded %d", n, windows, got, want)
			}
			if got, want := PartialBytes(n, windows), partialBytes(n, windows); got != want {
				t.Errorf("PartialBytes(%d, %d) = %d, encoded %d", n, windows, got, want)
			}
		}
	}
}
