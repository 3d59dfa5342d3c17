package processor

import (
	"maps"
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

const testWindow = 2 * time.Second

// w is the start, in Unix ms, of the i-th test window.
func w(i int) int64 { return 1_800_000_000_000 + int64(i)*testWindow.Milliseconds() }

// end is the wall time at which window i ends, plus d.
func end(i int, d time.Duration) time.Time { return time.UnixMilli(w(i + 1)).Add(d) }

// part is partition p's partial of window i, covering first..last, with
// "m1" 🔥 counts n (none if n is 0).
func part(p int32, i int, first, last, n int64) *wire.Partial {
	pt := &wire.Partial{Topic: "t", Partition: p, WindowStartMs: w(i), WindowMs: testWindow.Milliseconds(),
		FirstOffset: first, LastOffset: last, Counts: wire.Counts{}}
	if n > 0 {
		pt.Counts.Add("m1", "🔥", n)
	}
	return pt
}

type delivery struct {
	p        *wire.Partial
	seq      uint64
	received time.Time
}

type closing struct {
	window int
	rule   string
	counts int64 // m1 🔥 counted for a fresh match
	late   int64
}

func TestMergerClosing(t *testing.T) {
	const dl = 400 * time.Millisecond
	tests := []struct {
		name  string
		parts int
		in    []delivery
		now   time.Time
		live  bool
		want  []closing
	}{
		{"all partitions merge and close early", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}, {part(1, 0, 0, 4, 5), 2, end(0, 0)}},
			end(0, 10*time.Millisecond), true, []closing{{0, wire.ClosedByAllPartitions, 15, 0}}},
		{"missing partition waits for the deadline", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}},
			end(0, dl-time.Millisecond), true, nil},
		{"missing partition closes at the deadline", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}},
			end(0, dl), true, []closing{{0, wire.ClosedByDeadline, 10, 0}}},
		{"windows close in order", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}, {part(0, 1, 10, 12, 3), 2, end(1, 0)}},
			end(1, dl), true, []closing{{0, wire.ClosedByDeadline, 10, 0}, {1, wire.ClosedByDeadline, 3, 0}}},
		{"a partition that moved on reaches the windows it skipped", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}, {part(0, 1, 10, 12, 3), 2, end(1, 0)}, {part(1, 1, 0, 0, 1), 3, end(1, 0)}},
			end(0, 0), true, []closing{{0, wire.ClosedByAllPartitions, 10, 0}, {1, wire.ClosedByAllPartitions, 4, 0}}},
		{"catching up, the wall clock does not close", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}},
			end(50, 0), false, nil},
		{"a window first seen after its end waits the deadline from then", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(5, 0)}},
			end(5, dl-time.Millisecond), true, nil},
		{"a window first seen after its end closes a deadline after", 2,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(5, 0)}},
			end(5, dl), true, []closing{{0, wire.ClosedByDeadline, 10, 0}}},
		{"a redelivery is merged once", 1,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}, {part(0, 0, 0, 9, 10), 1, end(0, 0)}},
			end(0, 0), true, []closing{{0, wire.ClosedByAllPartitions, 10, 0}}},
		{"empty heartbeats with equal offsets both count", 1,
			[]delivery{{part(0, 0, 5, 4, 0), 1, end(0, 0)}, {part(0, 1, 5, 4, 0), 2, end(1, 0)}},
			end(1, 0), true, []closing{{0, wire.ClosedByAllPartitions, 0, 0}, {1, wire.ClosedByAllPartitions, 0, 0}}},
		{"unknown partition count closes by deadline only", 0,
			[]delivery{{part(0, 0, 0, 9, 10), 1, end(0, 0)}},
			end(0, dl), true, []closing{{0, wire.ClosedByDeadline, 10, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(testWindow, dl, tt.parts)
			for _, d := range tt.in {
				m.add(d.p, d.seq, d.received, nil)
			}
			got := drain(m, tt.now, tt.live)
			if !equalClosings(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func drain(m *merger, now time.Time, live bool) []closing {
	var got []closing
	for win, rule := m.next(now, live); win != nil; win, rule = m.next(now, live) {
		tl := tallyOf(win, "m1", newMatchState(), nil)
		i := int((win.start - w(0)) / testWindow.Milliseconds())
		got = append(got, closing{i, rule, tl.counts["🔥"], tl.late})
	}
	return got
}

func equalClosings(a, b []closing) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A partial later than its window's close is counted, marked late, in the
// next window; none is lost.
func TestMergerLatePartialFoldsIntoNextWindow(t *testing.T) {
	const dl = 400 * time.Millisecond
	m := newMerger(testWindow, dl, 2)
	m.add(part(0, 0, 0, 9, 10), 1, end(0, 0), nil)
	got := drain(m, end(0, dl), true)
	m.add(part(1, 0, 0, 6, 7), 2, end(0, dl+time.Millisecond), nil) // slow bridge
	m.add(part(0, 1, 10, 11, 2), 3, end(1, 0), nil)
	m.add(part(1, 1, 7, 7, 1), 4, end(1, 0), nil)
	got = append(got, drain(m, end(1, 0), true)...)
	want := []closing{{0, wire.ClosedByDeadline, 10, 0}, {1, wire.ClosedByAllPartitions, 10, 7}}
	if !equalClosings(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// A redelivered partial's acknowledgement waits for what is open now.
func TestMergerHoldsRedeliveryAcks(t *testing.T) {
	m := newMerger(testWindow, time.Second, 2)
	a, b := &countAcks{}, &countAcks{}
	m.add(part(0, 0, 0, 9, 10), 1, end(0, 0), a)
	m.add(part(0, 0, 0, 9, 10), 1, end(0, 0), b)
	if len(m.takeAcks()) != 0 || len(m.open[0].acks) != 2 {
		t.Fatalf("redelivery acked before its window closed: %d held", len(m.open[0].acks))
	}
	win, _ := m.next(end(0, time.Second), true)
	m.add(part(0, 0, 0, 9, 10), 1, end(0, 0), b)
	if win == nil || len(m.takeAcks()) != 1 {
		t.Errorf("a redelivery with nothing open is not acked at once")
	}
}

type countAcks struct{ n int }

func (c *countAcks) Ack() error { c.n++; return nil }

func TestTallySkipsCountedOffsets(t *testing.T) {
	tests := []struct {
		name    string
		offsets map[int32]int64
		want    int64
		wantOff map[int32]int64
	}{
		{"nothing counted yet", nil, 15, map[int32]int64{0: 10, 1: 5}},
		{"partition 0 counted", map[int32]int64{0: 10}, 5, map[int32]int64{0: 10, 1: 5}},
		{"partition 0 counted up to its last offset only", map[int32]int64{0: 9}, 15, map[int32]int64{0: 10, 1: 5}},
		{"both counted, further on", map[int32]int64{0: 50, 1: 60}, 0, map[int32]int64{0: 50, 1: 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(testWindow, time.Second, 2)
			m.add(part(0, 0, 0, 9, 10), 1, end(0, 0), nil)
			m.add(part(1, 0, 0, 4, 5), 2, end(0, 0), nil)
			win, _ := m.next(end(0, 0), true)
			st := newMatchState()
			maps.Copy(st.offsets, tt.offsets)
			tl := tallyOf(win, "m1", st, nil)
			if tl.counts["🔥"] != tt.want || !maps.Equal(tl.offsets, tt.wantOff) {
				t.Errorf("got %d %v, want %d %v", tl.counts["🔥"], tl.offsets, tt.want, tt.wantOff)
			}
		})
	}
}
