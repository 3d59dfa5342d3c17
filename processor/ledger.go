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
// partials its swarms have not counted yet.
type tally struct {
	counts   map[string]int64
	late     int64
	offsets  map[int32]int64  // st.offsets advanced past every partial of the window
	partials map[int32]uint64 // st.partials advanced likewise
	entries  []entry          // the entries that contributed counts
}

// tallyOf sums match's counts over w's entries that st has not counted.
func tallyOf(w *window, match string, st *matchState) tally {
	t := tally{counts: map[string]int64{}, offsets: maps.Clone(st.offsets), partials: maps.Clone(st.partials)}
	if t.partials == nil {
		t.partials = map[int32]uint64{}
	}
	for _, e := range w.entries {
		if e.match != "" && e.match != match {
			continue
		}
		c := e.counts(match)
		counted := st.counted(&e)
		if !counted && e.seq >= t.partials[e.p.Partition] { // the partition's newest partial so far
			t.offsets[e.p.Partition] = e.p.NextOffset()
			t.partials[e.p.Partition] = e.seq
		}
		if len(c) == 0 || counted {
			continue
		}
		t.entries = append(t.entries, e)
		for emoji, n := range c {
			t.counts[emoji] += n
			if e.late {
				t.late += n
			}
		}
	}
	return t
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
		Late: t.late, Offsets: t.offsets, Partials: t.partials,
	}
}
