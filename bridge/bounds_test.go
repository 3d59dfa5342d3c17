package bridge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

// match64 is the i-th distinct match id of the longest length.
func match64(i int) string {
	id := fmt.Sprintf("m%d-", i)
	return id + strings.Repeat("x", wire.MaxMatchID-len(id))
}

func TestWindowerSplitsAtTheBound(t *testing.T) {
	const topic = "emostream.events"
	key := wire.CountKeyBytes(match64(0), "🔥", true)
	tests := []struct {
		name     string
		keys     int // room for this many new-match keys
		records  []string
		wantRuns []int // records per partial, in order
		wantMore []bool
	}{
		{"under the bound: one partial", 3, []string{"a", "b", "c"}, []int{3}, []bool{false}},
		{"a new key past the bound splits before it", 2, []string{"a", "b", "c", "d", "e"}, []int{2, 2, 1},
			[]bool{true, true, false}},
		{"repeats of known keys never split", 2, []string{"a", "b", "a", "b", "a", "c", "a"}, []int{5, 2},
			[]bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bound := wire.PartialBaseBytes(topic) + tt.keys*key
			w := newWindower(topic, 0, 1000, 100, 0, noFloor, bound)
			var got []wire.Partial
			for off, m := range tt.records {
				if p := w.add(int64(off), 1500, match64(int(m[0])), "🔥", counted); p != nil {
					got = append(got, *p)
				}
				if w.size > bound {
					t.Fatalf("open partial's bound %d exceeds %d", w.size, bound)
				}
			}
			got = append(got, *w.tick(2100, true))
			var runs []int
			var more []bool
			next := int64(0)
			for _, p := range got {
				data, _ := p.Encode()
				switch {
				case len(data) > bound:
					t.Errorf("partial %s is %d bytes, bound %d", p.MsgID(), len(data), bound)
				case p.WindowStartMs != 1000 || p.FirstOffset != next:
					t.Errorf("partial %s: want window 1000 from offset %d", p.MsgID(), next)
				}
				if err := p.Validate(); err != nil {
					t.Error(err)
				}
				next = p.NextOffset()
				runs, more = append(runs, int(p.Counts.Total())), append(more, p.More)
			}
			if fmt.Sprint(runs, more) != fmt.Sprint(tt.wantRuns, tt.wantMore) {
				t.Errorf("partials of %v records, more %v; want %v, %v", runs, more, tt.wantRuns, tt.wantMore)
			}
		})
	}
}

// A split for a new emoji of a match the old partial had counts the match
// key again in the new partial's bound: the new partial has none of the old
// one's keys.
func TestWindowerSplitRecountsTheMatch(t *testing.T) {
	m := match64(1)
	base := wire.PartialBaseBytes("t")
	bound := base + wire.CountKeyBytes(m, "🔥", true) + wire.CountKeyBytes(m, "👏", false) - 1
	w := newWindower("t", 0, 1000, 100, 0, noFloor, bound)
	w.add(0, 1500, m, "🔥", counted)
	if p := w.add(1, 1600, m, "👏", counted); p == nil || !p.More {
		t.Fatalf("no split before %s's second emoji: %+v", m, p)
	}
	if want := base + wire.CountKeyBytes(m, "👏", true); w.size != want {
		t.Errorf("new partial's bound %d, want %d (its match key counted)", w.size, want)
	}
}

// After a split the window stays open: a late record counts in it, and the
// floor does not move until the window closes.
func TestWindowerSplitKeepsTheWindow(t *testing.T) {
	bound := wire.PartialBaseBytes("t") + wire.CountKeyBytes(match64(0), "🔥", true)
	w := newWindower("t", 0, 1000, 100, 0, noFloor, bound)
	w.add(0, 1500, match64(1), "🔥", counted)
	first := w.add(1, 1600, match64(2), "🔥", counted)
	if first == nil || !first.More || w.floor != noFloor || !w.open || w.cur.WindowStartMs != 1000 {
		t.Fatalf("split %+v, floor %d, open %v at %d", first, w.floor, w.open, w.cur.WindowStartMs)
	}
	second := w.add(2, 2500, match64(2), "🔥", counted)
	if second == nil || second.More || second.WindowStartMs != 1000 || second.FirstOffset != 1 ||
		second.LastOffset != 1 || w.floor != 2000 {
		t.Fatalf("closing partial %+v, floor %d", second, w.floor)
	}
}
