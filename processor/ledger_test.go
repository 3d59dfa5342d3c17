package processor

import (
	"maps"
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

// Each window's swarm carries the remainder into the match's next one.
func TestSwarmThresholdAndCarry(t *testing.T) {
	tests := []struct {
		name      string
		counts    []int64 // 🔥 per window
		wantUnits []int64
		wantCarry []int64
	}{
		{"2500 then 700", []int64{2500, 700}, []int64{2, 1}, []int64{500, 200}},
		{"below the threshold accumulates", []int64{400, 400, 400}, []int64{0, 0, 1}, []int64{400, 800, 200}},
		{"exact multiples carry nothing", []int64{1000, 3000}, []int64{1, 3}, []int64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(testWindow, time.Second, 1)
			st := newMatchState()
			var off int64
			for i, n := range tt.counts {
				m.add(part(0, i, off, off+n-1, n), uint64(i+1), end(i, 0), nil)
				off += n
				win, rule := m.next(end(i, 0), true)
				sw := buildSwarm(win, "m1", tallyOf(win, "m1", st, nil), st,
					swarmParams{window: testWindow, threshold: 1000, closedBy: rule, now: end(i, 0)})
				if sw.Swarm["🔥"] != tt.wantUnits[i] || sw.Carry["🔥"] != tt.wantCarry[i] || sw.Total != n {
					t.Errorf("window %d: units %d carry %d total %d, want %d %d %d", i,
						sw.Swarm["🔥"], sw.Carry["🔥"], sw.Total, tt.wantUnits[i], tt.wantCarry[i], n)
				}
				st = stateOf(sw, uint64(i+1))
			}
		})
	}
}

// A swarm states its window, the partitions merged, and the offsets it has
// counted up to, building on what the match counted before.
func TestBuildSwarm(t *testing.T) {
	m := newMerger(testWindow, time.Second, 2)
	m.add(part(0, 3, 100, 109, 10), 1, end(3, 0), nil)
	m.add(part(1, 3, 50, 49, 0), 2, end(3, 0), nil)
	win, rule := m.next(end(3, 0), true)
	st := &matchState{seq: 7, window: w(2), carry: map[string]int64{"🔥": 995}, offsets: map[int32]int64{0: 100, 1: 50, 2: 9}}
	sw := buildSwarm(win, "m1", tallyOf(win, "m1", st, nil), st, swarmParams{window: testWindow, threshold: 1000, closedBy: rule, now: end(3, 0)})
	want := &wire.Swarm{MatchID: "m1", WindowStart: time.UnixMilli(w(3)).UTC(), WindowEnd: time.UnixMilli(w(4)).UTC(),
		Counts: map[string]int64{"🔥": 10}, Swarm: map[string]int64{"🔥": 1}, Carry: map[string]int64{"🔥": 5},
		Total: 10, Partitions: 2, ClosedBy: wire.ClosedByAllPartitions, Offsets: map[int32]int64{0: 110, 1: 50, 2: 9}}
	if !sw.WindowStart.Equal(want.WindowStart) || !sw.WindowEnd.Equal(want.WindowEnd) || sw.Total != want.Total ||
		sw.Partitions != want.Partitions || sw.ClosedBy != want.ClosedBy || !maps.Equal(sw.Counts, want.Counts) ||
		!maps.Equal(sw.Swarm, want.Swarm) || !maps.Equal(sw.Carry, want.Carry) || !maps.Equal(sw.Offsets, want.Offsets) {
		t.Errorf("got %+v\nwant %+v", sw, want)
	}
}

// A match whose swarm of the closing window is already stored (a restart
// after publishing it, or another processor) gets what it has not counted
// folded into its next window, with the window's acknowledgements.
func TestFoldMatchIntoNextWindow(t *testing.T) {
	m := newMerger(testWindow, time.Second, 1)
	a := &countAcks{}
	m.add(part(0, 0, 0, 9, 10), 1, end(0, 0), a)
	win, _ := m.next(end(0, 0), true)
	st := &matchState{seq: 3, window: w(0), offsets: map[int32]int64{0: 5}} // counted 0..4 only
	tl := tallyOf(win, "m1", st, nil)
	if !st.published(win.start) || tl.counts["🔥"] != 10 {
		t.Fatalf("published %v, uncounted %d", st.published(win.start), tl.counts["🔥"])
	}
	m.foldMatch(win, "m1", tl.entries)
	m.add(part(0, 1, 10, 11, 2), 2, end(1, 0), nil)
	next, _ := m.next(end(1, 0), true)
	got := tallyOf(next, "m1", st, nil)
	other := tallyOf(next, "m2", newMatchState(), nil)
	if got.counts["🔥"] != 12 || got.late != 10 || len(next.acks) != 1 || len(win.acks) != 0 || len(other.counts) != 0 {
		t.Errorf("next window: %v late %d, %d acks moved; other match %v", got.counts, got.late, len(next.acks), other.counts)
	}
}

// A broker that lost the tail of its log makes the bridge's Kafka offsets
// step back; the processor goes by stream sequence, so the new partial,
// whose offsets are below what was counted, still counts, and a redelivered
// old one still does not.
func TestCountedByStreamSequenceAcrossOffsetRegression(t *testing.T) {
	st := &matchState{seq: 3, window: w(0), offsets: map[int32]int64{0: 100}, partials: map[int32]uint64{0: 7}}
	m := newMerger(testWindow, time.Second, 1)
	m.add(part(0, 1, 40, 49, 10), 9, end(1, 0), nil) // after the regression: offsets 40..49 < 100
	win, _ := m.next(end(1, 0), true)
	tl := tallyOf(win, "m1", st, nil)
	if tl.counts["🔥"] != 10 || tl.partials[0] != 9 || tl.offsets[0] != 50 {
		t.Fatalf("after regression: counts %v, partials %v, offsets %v", tl.counts, tl.partials, tl.offsets)
	}
	old := &entry{p: part(0, 0, 90, 99, 10), seq: 7}
	if !st.counted(old) {
		t.Fatal("a redelivered partial at the stored sequence counted again")
	}
}
