package bridge

import (
	"fmt"
	"runtime"
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

func TestDedupScopedToTheEvent(t *testing.T) {
	type ev struct{ user, match, id string }
	a := ev{"u-a", "final", "e1"}
	tests := []struct {
		name   string
		events []ev
		want   []bool
	}{
		{"a retry by the same user is a repeat", []ev{a, a}, []bool{false, true}},
		{"another user's id, same match", []ev{{"u-b", "final", "e1"}, a, a}, []bool{false, false, true}},
		{"another match's id, same user", []ev{{"u-a", "semi", "e1"}, a}, []bool{false, false}},
		{"fields do not run together", []ev{{"u-a", "final", "e1"}, {"u-af", "inal", "e1"}, {"u-", "afinal", "e1"}},
			[]bool{false, false, false}},
		{"no event_id never repeats", []ev{{"u-a", "final", ""}, {"u-a", "final", ""}}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDedup(1000, 100)
			var h eventHasher
			for i, e := range tt.events {
				if got := d.repeat(h.sum([]byte(e.user), []byte(e.match), []byte(e.id)), int64(i)); got != tt.want[i] {
					t.Errorf("event %d %+v: repeat = %v, want %v", i, e, got, tt.want[i])
				}
			}
		})
	}
}

// While the set is full, the effective horizon is the age of the oldest
// remembered event; a retry within it is still a repeat.
func TestDedupEffectiveHorizon(t *testing.T) {
	d := newDedup(10_000, 4)
	var h eventHasher
	id := func(i int) uint64 { return h.sum([]byte("u"), []byte("m"), []byte(fmt.Sprint(i))) }
	for i := range 4 {
		d.repeat(id(i), int64(i*100))
	}
	if got := d.effectiveHorizon(); got != 300 {
		t.Errorf("full set: effective horizon %d ms, want 300", got)
	}
	d.repeat(id(4), 400) // evicts event 0
	if d.evicted != 1 || d.effectiveHorizon() != 300 {
		t.Errorf("evicted %d, effective horizon %d, want 1 and 300", d.evicted, d.effectiveHorizon())
	}
	if !d.repeat(id(1), 401) || d.repeat(id(0), 402) {
		t.Error("a retry within the effective horizon must repeat; one beyond it cannot")
	}
	if e := newDedup(10_000, 4); e.effectiveHorizon() != 10_000 {
		t.Errorf("a set with room: effective horizon %d, want the configured 10000", e.effectiveHorizon())
	}
}

// BenchmarkDedupMemory measures the heap per remembered event of a full
// set of DefaultDedupMax.
//
//	go test ./bridge -run '^$' -bench DedupMemory -benchtime 1x
func BenchmarkDedupMemory(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d := newDedup(1<<62, DefaultDedupMax)
		var h eventHasher
		for i := range DefaultDedupMax {
			d.repeat(h.sum([]byte("user"), []byte("match"), fmt.Appendf(nil, "event-%d", i)), int64(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/DefaultDedupMax, "B/event")
		runtime.KeepAlive(d)
	}
}
