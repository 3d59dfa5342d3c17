package bridge

import (
	"fmt"
	"testing"

	"github.com/emostream/emostream/wire"
)

// A record of a window its partition already closed counts in the open
// partial, as late, under the window it was received in; a record late
// from one window more than a partial may name splits the window.
func TestWindowerLateCounts(t *testing.T) {
	w := newWindower("t", 0, 1000, 100, 0, noFloor, 1<<20)
	var got []*wire.Partial
	add := func(off, ts int64, emoji string) {
		if p := w.add(off, ts, "m", emoji, counted); p != nil {
			got = append(got, p)
		}
	}
	add(0, 1500, "🔥") // window 1000
	add(1, 5200, "🔥") // window 5000 closes 1000
	add(2, 4100, "👏") // late from 4000
	add(3, 3100, "🔥") // late from 3000
	add(4, 4200, "👏") // late from 4000 again
	add(5, 2100, "🔥") // a third window: splits 5000
	add(6, 5500, "🔥") // on time
	got = append(got, w.tick(6200, true))
	want := []string{
		"1000 more=false late=0 map[]",
		"5000 more=true late=3 map[3000:map[m:map[🔥:1]] 4000:map[m:map[👏:2]]]",
		"5000 more=false late=1 map[2000:map[m:map[🔥:1]]]",
	}
	next := int64(0)
	for i, p := range got {
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
		if p.FirstOffset != next {
			t.Errorf("partial %d starts at %d, want %d", i, p.FirstOffset, next)
		}
		next = p.NextOffset()
		if s := fmt.Sprintf("%d more=%v late=%d %v", p.WindowStartMs, p.More, p.Late, p.LateCounts); i >= len(want) || s != want[i] {
			t.Errorf("partial %d: %s, want %v", i, s, want[min(i, len(want)-1)])
		}
	}
	if len(got) != len(want) || next != 7 {
		t.Errorf("%d partials up to offset %d, want %d up to 7", len(got), next, len(want))
	}
}

// A late record whose keys would take the partial past its bound splits
// it, its late_counts keys counted in the bound.
func TestWindowerLateKeysSplitAtTheBound(t *testing.T) {
	m := match64(1)
	base := wire.PartialBaseBytes("t")
	// a late record without video_ts has a late key and a video key
	bound := base + wire.CountKeyBytes(m, "🔥", true) + 2*wire.LateKeyBytes(m, "🔥", true, true)
	w := newWindower("t", 0, 1000, 100, 0, noFloor, bound)
	w.add(0, 2500, m, "🔥", counted)
	if p := w.add(1, 1500, m, "🔥", counted); p != nil { // late: its late key fits the bound
		t.Fatalf("split at the first late record: %+v", p)
	}
	if w.size != bound {
		t.Errorf("bound %d after a late record, want %d", w.size, bound)
	}
	p := w.add(2, 500, m, "🔥", counted) // late from another window: one more late key
	if p == nil || !p.More || p.LastOffset != 1 {
		t.Fatalf("no split before a late key past the bound: %+v", p)
	}
	if data, _ := p.Encode(); len(data) > bound {
		t.Errorf("partial of %d bytes, bound %d", len(data), bound)
	}
}
