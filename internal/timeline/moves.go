package timeline

import (
	"context"
	"math"
	"slices"

	"github.com/emostream/emostream/wire"
)

// moves are what a view (other than ByArrival) changes in a query's steps:
// counts moved from the step of the window whose swarm carried them to the
// step of the window they belong to, summed per step and emoji. A query
// holds them for its range: at most one count per step and emoji.
type moves struct {
	steps map[int64]map[string]int64
	order []int64 // the steps with moves, sorted
	next  int     // order[:next] are emitted or applied
}

// move is one count of a record of moves, before it is summed.
type move struct {
	to    int64 // the window the counts belong to
	emoji string
	n     int64
}

// moves reads match's records of kind (wire.LateRecord: counts carried by
// the swarm of the window starting at s that belong to the windows of w)
// and sums them into q's steps. Late records (a sparse subject) are read
// from the first; video records (one per window with video_ts) from the
// first that can move a count into q: a record moves counts back, or
// forward by less than a window and wire.MaxVideoLead (a video_ts ahead
// of its receive time), so those of windows before q.From less a step
// and MaxVideoLead cannot (found by bisection, recordsFrom). The moves of a window before the earliest
// one q's records cover (the stream dropped its record, which held the
// counts) are left out. A step whose own records were dropped while a
// later window's moves to it are kept shows only what was moved to it:
// with the default limits, only in a 2s or 10s query reaching back to the
// window records' 3 hours.
func (r *Reader) moves(ctx context.Context, q Query, kind string, intern func([]byte) string) (*moves, error) {
	covered, err := r.coveredFrom(ctx, q)
	if err != nil {
		return nil, err
	}
	stepMs := q.Step.Milliseconds()
	mv := &moves{steps: map[int64]map[string]int64{}}
	var scratch []move
	subject, from := wire.TimelineSubject(q.Match, kind), uint64(1)
	if kind == wire.TimelineVideo {
		if from, err = r.recordsFrom(ctx, subject, q.From-stepMs-wire.MaxVideoLead.Milliseconds()); err != nil {
			return nil, err
		}
	}
	err = r.Scan(ctx, subject, from, func(m Msg) (bool, error) {
		scratch = scratch[:0]
		rec, err := wire.ScanLateRecord(m.Data, func(to int64, e []byte, n int64) {
			scratch = append(scratch, move{to, intern(e), n})
		})
		if err != nil || rec.Start < covered {
			return true, nil // a bad record, skipped as everywhere; or one whose counts the stream dropped
		}
		from := wire.WindowStart(rec.Start, stepMs)
		for _, c := range scratch {
			to := wire.WindowStart(c.to, stepMs)
			if to == from {
				continue
			}
			mv.add(q, to, c.emoji, c.n)
			mv.add(q, from, c.emoji, -c.n)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for s := range mv.steps {
		mv.order = append(mv.order, s)
	}
	slices.Sort(mv.order)
	return mv, nil
}

// recordsFrom is the stream sequence of the first of subject's records
// (late-record form, stored in order of their window) whose window starts
// at or after fromMs, or after the last record if none does: found by
// bisection over the stream's sequences, a direct get per step. A record
// that does not decode counts as at or after fromMs, so it never hides
// one that is.
func (r *Reader) recordsFrom(ctx context.Context, subject string, fromMs int64) (uint64, error) {
	startAt := func(seq uint64) (int64, uint64, error) {
		m, err := r.Next(ctx, subject, seq)
		if err != nil || m.Seq == 0 {
			return math.MaxInt64, m.Seq, err
		}
		rec, err := wire.ScanLateRecord(m.Data, func(int64, []byte, int64) {})
		if err != nil {
			return math.MaxInt64, m.Seq, nil
		}
		return rec.Start, m.Seq, nil
	}
	s, lo, err := startAt(1)
	if err != nil || lo == 0 || s >= fromMs {
		return max(lo, 1), err
	}
	last, err := r.Last(ctx, subject)
	if err != nil {
		return 0, err
	}
	hi := last.Seq // the start at lo is before fromMs; the first at or after hi is the last record
	if s, _, err = startAt(hi); err != nil || s < fromMs {
		return hi + 1, err
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		s, _, err := startAt(mid)
		if err != nil {
			return 0, err
		}
		if s >= fromMs {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// add moves n of emoji into (or, negative, out of) step s, if q asks for it.
func (mv *moves) add(q Query, s int64, emoji string, n int64) {
	if s < q.From || s >= q.To {
		return
	}
	c := mv.steps[s]
	if c == nil {
		c = map[string]int64{}
		mv.steps[s] = c
	}
	c[emoji] += n
}

// coveredFrom is the start of the earliest window q's records hold: the
// first window record's, or, for a rollup step, the first rollup's if
// earlier. MaxInt64 when there is none.
func (r *Reader) coveredFrom(ctx context.Context, q Query) (int64, error) {
	kinds := []string{wire.TimelineWindows}
	if isRollup(q.Step) {
		kinds = append(kinds, wire.StepName(q.Step))
	}
	covered := int64(math.MaxInt64)
	for _, k := range kinds {
		m, err := r.First(ctx, wire.TimelineSubject(q.Match, k))
		if err != nil {
			return 0, err
		}
		if m.Seq == 0 {
			continue
		}
		if rec, err := wire.DecodeTimelineRecord(m.Data); err == nil {
			covered = min(covered, rec.Start)
		}
	}
	return covered, nil
}

// apply adds the moves of st's step to st, dropping emojis left at zero.
func (mv *moves) apply(st *Step) {
	if mv == nil {
		return
	}
	c, ok := mv.steps[st.Start]
	if !ok {
		return
	}
	delete(mv.steps, st.Start)
	for e, n := range c {
		st.Counts[e] += n
		st.Total += n
		if st.Counts[e] == 0 {
			delete(st.Counts, e)
		}
	}
}

// before returns, in order, the next step before end that has moves not
// applied to a step of records (a window whose every count was moved
// there), and false when there is none.
func (mv *moves) before(end int64) (Step, bool) {
	for mv != nil && mv.next < len(mv.order) && mv.order[mv.next] < end {
		s := mv.order[mv.next]
		mv.next++
		c, ok := mv.steps[s]
		if !ok {
			continue
		}
		delete(mv.steps, s)
		st := Step{Start: s, Counts: map[string]int64{}}
		for e, n := range c {
			if n != 0 {
				st.Counts[e] = n
				st.Total += n
			}
		}
		if len(st.Counts) > 0 {
			return st, true
		}
	}
	return Step{}, false
}
