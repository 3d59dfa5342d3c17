package processor

import (
	"maps"
	"time"

	"github.com/emostream/emostream/wire"
)

// matchState is what the swarm stream says about one match: its last
// stored swarm.
type matchState struct {
	seq     uint64 // stream sequence of the last swarm; 0 if there is none
	window  int64  // its window start, Unix ms
	carry   map[string]int64
	offsets map[int32]int64
	// partials is per partition the stream sequence of the last partial
	// counted; offsets decide only for swarms stored without it.
	partials map[int32]uint64
	// tl is the match's timeline, nil until a window needs it.
	tl *tlState
}

// stateOf is the state a stored swarm at sequence seq leaves behind.
func stateOf(s *wire.Swarm, seq uint64) *matchState {
	st := &matchState{seq: seq, window: s.WindowStart.UnixMilli(), carry: s.Carry, offsets: s.Offsets, partials: s.Partials}
	if st.carry == nil {
		st.carry = map[string]int64{}
	}
	if st.offsets == nil {
		st.offsets = map[int32]int64{}
	}
	if st.partials == nil {
		st.partials = map[int32]uint64{}
	}
	return st
}

func newMatchState() *matchState {
	return &matchState{carry: map[string]int64{}, offsets: map[int32]int64{}, partials: map[int32]uint64{}}
}

// published reports whether the match's swarm of the window starting at
// start, or of a later window, is stored: such a window is never published
// again.
func (st *matchState) published(start int64) bool {
	return st.seq > 0 && start <= st.window
}

// counted reports whether the match's stored swarms already counted e's
// partial: by stream sequence, or by Kafka offset for a swarm stored
// without sequences.
func (st *matchState) counted(e *entry) bool {
	if seq, ok := st.partials[e.p.Partition]; ok {
		return e.seq <= seq
	}
	next, ok := st.offsets[e.p.Partition]
	return ok && e.p.LastOffset < next
}

// tally is one match's share of a closing window: the counts of the
// partials its swarms have not counted yet, as far as its swarm's bound
// allows.
type tally struct {
	counts map[string]int64
	late   int64
	// lateWindows is the late part of counts by the window each event was
	// received in (wire.Swarm.LateWindows).
	lateWindows map[int64]map[string]int64
	// videoWindows is the part of counts that the program-time view
	// puts in another window (wire.Swarm.VideoWindows).
	videoWindows map[int64]map[string]int64
	start        int64 // the swarm's window
	// videoDropped counts the events of entries taken without their
	// program-time moves: the first entry, over the bound with them.
	videoDropped int64
	offsets      map[int32]int64  // st.offsets advanced past every partial taken
	partials     map[int32]uint64 // st.partials advanced likewise
	entries      []entry          // the entries that contributed counts
	// held are entries with counts for the match that would have passed
	// the bound, with the later entries of their partitions: they belong
	// to the match's next window.
	held []entry
}

// tallyOf sums match's counts over w's entries that st has not counted, in
// stream order, keeping the swarm's encoding within b (nil: no bound). An
// entry that would pass it is held, with every later entry of its
// partition, for the match's next window; the first entry with counts is
// always taken, so every window makes progress. The common case costs one
// pass: the tally of every entry, then its bound checked once.
func tallyOf(w *window, match string, st *matchState, b *swarmBound) tally {
	t := tallyWithin(w, match, st, nil)
	if b == nil || b.holds(&t, match, st) {
		return t
	}
	return tallyWithin(w, match, st, b)
}

// tallyWithin is tallyOf, the bound b (nil: none) kept entry by entry.
func tallyWithin(w *window, match string, st *matchState, b *swarmBound) tally {
	t := tally{counts: map[string]int64{}, start: w.start, offsets: maps.Clone(st.offsets), partials: maps.Clone(st.partials)}
	if t.partials == nil {
		t.partials = map[int32]uint64{}
	}
	sz := newSizer(&t, match, st, b)
	var stopped map[int32]bool // partitions whose entries are held from here on
	for _, e := range w.inOrder() {
		if e.match != "" && e.match != match {
			continue
		}
		c := e.counts(match)
		if st.counted(&e) {
			continue
		}
		ok, video := sz.fits(&e, c, len(t.entries) == 0)
		if stopped[e.p.Partition] || !ok {
			if stopped == nil {
				stopped = map[int32]bool{}
			}
			stopped[e.p.Partition] = true
			if len(c) > 0 {
				t.held = append(t.held, e)
			}
			continue
		}
		t.take(e, c, match, video)
	}
	return t
}

// take adds e's counts for match (c) to t, and moves the partition's
// marks past it; with video, its program-time moves too (else they are
// counted in videoDropped).
func (t *tally) take(e entry, c map[string]int64, match string, video bool) {
	if e.seq >= t.partials[e.p.Partition] { // the partition's newest partial so far
		t.offsets[e.p.Partition] = e.p.NextOffset()
		t.partials[e.p.Partition] = e.seq
	}
	if len(c) == 0 {
		return
	}
	t.entries = append(t.entries, e)
	for emoji, n := range c {
		t.counts[emoji] += n
	}
	e.lateParts(match, c, func(origin int64, emoji string, n int64) {
		if t.lateWindows == nil {
			t.lateWindows = map[int64]map[string]int64{}
		}
		lw := t.lateWindows[origin]
		if lw == nil {
			lw = map[string]int64{}
			t.lateWindows[origin] = lw
		}
		lw[emoji] += n
		t.late += n
	})
	e.videoParts(match, c, t.start, func(window int64, emoji string, n int64) {
		if !video {
			t.videoDropped += n
			return
		}
		t.videoWindows = addWindow(t.videoWindows, window, emoji, n)
	})
}

// addWindow adds n of emoji to window in m, which it returns (made if
// nil).
func addWindow(m map[int64]map[string]int64, window int64, emoji string, n int64) map[int64]map[string]int64 {
	if m == nil {
		m = map[int64]map[string]int64{}
	}
	c := m[window]
	if c == nil {
		c = map[string]int64{}
		m[window] = c
	}
	c[emoji] += n
	return m
}

// videoParts calls f with each part of e's counts for match (c) that the
// program-time view puts in another window than start, the window of the
// swarm counting it: the partial's video_counts (each record with a
// video_ts in the window containing it, each late one without in the
// window it was received in), and, for an entry of an earlier window (it
// reached the processor after its window closed), the rest of its counts,
// whose program-time window is the partial's.
func (e *entry) videoParts(match string, c map[string]int64, start int64, f func(window int64, emoji string, n int64)) {
	e.parts(e.p.VideoCounts, match, c, func(w int64) bool { return w != start }, e.p.WindowStartMs != start, f)
}

// lateParts calls f with each part of e's counts for match (c) that was
// received in an earlier window than the one counting it: the records the
// bridge counted late, by the window it names for them, and, for an entry
// that is late itself (it reached the processor after its window closed),
// the rest of its counts, received in its partial's window.
func (e *entry) lateParts(match string, c map[string]int64, f func(origin int64, emoji string, n int64)) {
	e.parts(e.p.LateCounts, match, c, func(int64) bool { return true }, e.late, f)
}

// parts calls f with match's counts of each window of named that keep
// keeps and, if rest, with what c counts beyond all of named, in the
// partial's own window.
func (e *entry) parts(named map[int64]wire.Counts, match string, c map[string]int64, keep func(window int64) bool, rest bool, f func(window int64, emoji string, n int64)) {
	for window, wc := range named {
		if !keep(window) {
			continue
		}
		for emoji, n := range wc[match] {
			f(window, emoji, n)
		}
	}
	if !rest {
		return
	}
	for emoji, n := range c {
		for _, wc := range named {
			n -= wc[match][emoji]
		}
		if n > 0 {
			f(e.p.WindowStartMs, emoji, n)
		}
	}
}

// swarmParams are the per-processor inputs of a swarm.
type swarmParams struct {
	window    time.Duration
	threshold int64
	closedBy  string
	now       time.Time
}

// buildSwarm is match's swarm of w from its tally, compressed with the
// match's carry.
func buildSwarm(w *window, match string, t tally, st *matchState, sp swarmParams) *wire.Swarm {
	units, rest := wire.Compress(t.counts, st.carry, sp.threshold)
	start := time.UnixMilli(w.start).UTC()
	var total int64
	for _, n := range t.counts {
		total += n
	}
	return &wire.Swarm{
		MatchID: match, WindowStart: start, WindowEnd: start.Add(sp.window),
		Counts: t.counts, Swarm: units, Carry: rest, Total: total,
		Partitions: len(w.parts), ClosedBy: sp.closedBy, PublishedAt: sp.now,
		Late: t.late, LateWindows: t.lateWindows, VideoWindows: t.videoWindows, Offsets: t.offsets, Partials: t.partials,
	}
}
