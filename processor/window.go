package processor

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/emostream/emostream/wire"
)

// acker acknowledges a partial once the swarms that used it are stored.
// jetstream.Msg is one.
type acker interface{ Ack() error }

// entry is one partial merged into a window.
type entry struct {
	p   *wire.Partial
	seq uint64 // stream sequence in the partials stream
	// late means the partial arrived after its own window had closed.
	late bool
	// match, when set, limits the entry to that match's counts: it was
	// folded forward for that match alone (see merger.foldMatch).
	match string
}

// counts returns the entry's counts for match, nil if it has none.
func (e *entry) counts(match string) map[string]int64 {
	if e.match != "" && e.match != match {
		return nil
	}
	return e.p.Counts[match]
}

// window is an open window: the partials merged into it and the messages
// to acknowledge once its swarms are stored.
type window struct {
	start   int64              // Unix ms
	opened  time.Time          // when its first partial arrived
	entries []entry            // in arrival order; inOrder sorts them
	sorted  bool               // entries are in stream order
	parts   map[int32]struct{} // partitions that delivered a partial of this window
	acks    []acker
}

// inOrder returns the window's entries in stream order (by sequence), the
// order in which each partition's partials were published.
func (w *window) inOrder() []entry {
	if !w.sorted {
		slices.SortStableFunc(w.entries, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
		w.sorted = true
	}
	return w.entries
}

// push adds e to the window's entries.
func (w *window) push(e entry) {
	w.entries = append(w.entries, e)
	w.sorted = false
}

// matches returns the matches with counts in the window, sorted.
func (w *window) matches() []string {
	seen := map[string]struct{}{}
	for i := range w.entries {
		for m := range w.entries[i].p.Counts {
			if w.entries[i].match == "" || w.entries[i].match == m {
				seen[m] = struct{}{}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// merger holds the open windows of one session. It is pure: the caller
// passes time in, and performs every acknowledgement it hands out.
type merger struct {
	windowMs      int64
	partitionWait time.Duration
	partitions    int
	closed        int64            // start of the last closed window
	open          []*window        // sorted by start
	mark          map[int32]int64  // per partition: latest window it delivered
	seen          map[int32]uint64 // per partition: highest stream sequence merged
	ackNow        []acker          // acknowledgements due now (redeliveries)
	now           time.Time        // the time of the last call of add or next
	// maxOpen caps the open windows (0: no cap): past it the earliest
	// closes by closedByCap.
	maxOpen int
	entries int // entries of the open windows
	// After a restart (see grace.go): the session's start, how long a
	// window past its deadline may wait for partitions not heard from yet
	// or catching up, and when each partition was last heard from.
	started time.Time
	grace   time.Duration
	heard   map[int32]time.Time
}

// closedByCap is the rule of a window closed because too many were open.
// Its swarms say wire.ClosedByDeadline: it closed without waiting.
const closedByCap = "open_windows_cap"

func newMerger(window, partitionWait time.Duration, partitions int) *merger {
	return &merger{windowMs: window.Milliseconds(), partitionWait: partitionWait, partitions: partitions,
		closed: math.MinInt64, mark: map[int32]int64{}, seen: map[int32]uint64{}, heard: map[int32]time.Time{}}
}

// add merges partial p, stored at sequence seq, received at now. A partial
// later than its window's close folds into the next open window. A
// redelivery of a partial already merged is not merged again, and add
// reports false.
func (m *merger) add(p *wire.Partial, seq uint64, now time.Time, ack acker) bool {
	m.now = now
	if seq <= m.seen[p.Partition] {
		m.hold(ack)
		return false
	}
	m.seen[p.Partition] = seq
	// A split partial (More) does not complete its window: the rest of the
	// partition's counts for it follow in the next partial.
	if mk, ok := m.mark[p.Partition]; !p.More && (!ok || p.WindowStartMs > mk) {
		m.mark[p.Partition] = p.WindowStartMs
	}
	m.entries++
	var w *window
	if p.WindowStartMs <= m.closed {
		w = m.after(m.closed)
		w.push(entry{p: p, seq: seq, late: true})
	} else {
		w = m.at(p.WindowStartMs)
		w.push(entry{p: p, seq: seq})
		w.parts[p.Partition] = struct{}{}
	}
	if ack != nil {
		w.acks = append(w.acks, ack)
	}
	return true
}

// hold keeps a redelivery's acknowledgement until everything open now is
// stored, or hands it out at once when nothing is open.
func (m *merger) hold(ack acker) {
	switch {
	case ack == nil:
	case len(m.open) == 0:
		m.ackNow = append(m.ackNow, ack)
	default:
		last := m.open[len(m.open)-1]
		last.acks = append(last.acks, ack)
	}
}

// at returns the open window starting at start, opening it if needed.
func (m *merger) at(start int64) *window {
	i := sort.Search(len(m.open), func(i int) bool { return m.open[i].start >= start })
	if i < len(m.open) && m.open[i].start == start {
		return m.open[i]
	}
	w := &window{start: start, opened: m.now, parts: map[int32]struct{}{}}
	m.open = append(m.open, nil)
	copy(m.open[i+1:], m.open[i:])
	m.open[i] = w
	return w
}

// after returns the first open window after start, opening the next one if
// none is.
func (m *merger) after(start int64) *window {
	for _, w := range m.open {
		if w.start > start {
			return w
		}
	}
	return m.at(start + m.windowMs)
}

// foldMatch moves match's uncounted entries of the closed window from into
// the next open window, with from's acknowledgements: they are counted
// (and acknowledged) there.
func (m *merger) foldMatch(from *window, match string, es []entry) {
	to := m.after(from.start)
	m.entries += len(es)
	for _, e := range es {
		to.push(entry{p: e.p, seq: e.seq, late: true, match: match})
	}
	to.acks = append(to.acks, from.acks...)
	from.acks = nil
}

// next removes and returns the earliest open window if it may close at now,
// with the rule that closes it. live says the consumer has caught up with
// the stream: only then may a window close by deadline. More than maxOpen
// windows open close the earliest at once (closedByCap). While it catches up
// on a backlog of windows long past, each closes as soon as every partition
// reached it, and those still missing one close together, in order, once
// the backlog is drained.
func (m *merger) next(now time.Time, live bool) (*window, string) {
	m.now = now
	if len(m.open) == 0 {
		return nil, ""
	}
	w, rule := m.open[0], ""
	switch {
	case m.reached(w.start):
		rule = wire.ClosedByAllPartitions
	case live && !now.Before(m.due(w)) && !m.waiting(w, now):
		rule = wire.ClosedByDeadline
	case m.maxOpen > 0 && len(m.open) > m.maxOpen:
		rule = closedByCap
	default:
		return nil, ""
	}
	m.open[0] = nil
	m.open = m.open[1:]
	m.closed = w.start
	m.entries -= len(w.entries)
	return w, rule
}

// reached reports whether every partition delivered a partial of the
// window starting at start or of a later one.
func (m *merger) reached(start int64) bool {
	if m.partitions <= 0 {
		return false
	}
	for p := 0; p < m.partitions; p++ {
		if mk, ok := m.mark[int32(p)]; !ok || mk < start {
			return false
		}
	}
	return true
}

// due is the deadline of w: the deadline after its end, or after its first
// partial arrived if that was later (a bridge catching up on windows long
// past gives the others as long to catch up too).
func (m *merger) due(w *window) time.Time {
	end := time.UnixMilli(w.start + m.windowMs)
	if w.opened.After(end) {
		end = w.opened
	}
	return end.Add(m.partitionWait)
}

// nextDue is when the earliest open window may next close by deadline,
// zero if none is open: its deadline, or, while it waits past that after a
// restart, when to look again.
func (m *merger) nextDue(now time.Time) time.Time {
	if len(m.open) == 0 {
		return time.Time{}
	}
	due := m.due(m.open[0])
	if now.Before(due) || !m.waiting(m.open[0], now) {
		return due
	}
	return now.Add(m.recheck())
}

// takeAcks returns and forgets the acknowledgements due now.
func (m *merger) takeAcks() []acker {
	a := m.ackNow
	m.ackNow = nil
	return a
}
