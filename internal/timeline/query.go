package timeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/emostream/emostream/wire"
)

// Step is one step of a timeline: the counts of the windows starting in
// [Start, Start+step).
type Step struct {
	Start  int64 // Unix ms
	Counts map[string]int64
	Total  int64
}

// Query asks for one match's steps starting in [From, To) (Unix ms, both
// multiples of Step), in view By.
type Query struct {
	Match    string
	From, To int64
	Step     time.Duration
	// By is how counts are attributed to steps. Empty means ByNamed.
	By View
}

// View is how a timeline attributes counts to steps. Every view is the
// counts as the swarms carried them (ByArrival) with some of them moved to
// other windows by records of the view's kind (views).
type View string

const (
	// ByNamed counts each event in the window it was received in, the
	// window its 202 named, also when it reached the processor after that
	// window had closed and its swarm counted it in a later window (the
	// swarm's late_windows, stored as late records).
	ByNamed View = "named"
	// ByArrival counts each event in the window whose swarm carried it:
	// the live swarms' view.
	ByArrival View = "arrival"
	// ByVideo counts each event that carried a video_ts in the window
	// containing it (the program time of the frame its viewer saw), and
	// each event without one as ByNamed does, in the window it was
	// received in: the swarms' video_windows, stored as video records.
	ByVideo View = "video"
)

// views are the views a query may ask for, each with the kind of the
// records (wire.TimelineSubject(match, kind)) that move counts from the
// window whose swarm carried them to the window they belong to; "" moves
// nothing.
var views = map[View]string{ByNamed: wire.TimelineLate, ByArrival: "", ByVideo: wire.TimelineVideo}

// Valid reports whether a query may ask for v.
func (v View) Valid() bool {
	_, ok := views[v]
	return ok
}

// Steps calls emit with every step of q that has counts, in order, reading
// the rollups of q.Step if the processor writes them and the window
// records after the last rollup (the steps still open), or the window
// records alone for shorter steps. A view other than ByArrival first reads
// its moves (moves.go). It holds one step and one batch at a time, and the
// moves of the query's range.
func (r *Reader) Steps(ctx context.Context, q Query, emit func(Step) error) error {
	stepMs := q.Step.Milliseconds()
	if stepMs <= 0 || q.From%stepMs != 0 || q.To%stepMs != 0 {
		return fmt.Errorf("timeline: query %+v is not aligned", q)
	}
	kind, ok := views[cmp.Or(q.By, ByNamed)]
	if !ok {
		return fmt.Errorf("timeline: no view %q", q.By)
	}
	acc := &accumulator{q: q, stepMs: stepMs, emit: emit, start: math.MinInt64, names: map[string]string{}}
	if kind != "" {
		mv, err := r.moves(ctx, q, kind, acc.intern)
		if err != nil {
			return err
		}
		acc.moves = mv
	}
	var from uint64
	var err error
	if isRollup(q.Step) {
		from, err = r.rollups(ctx, q, acc)
	} else {
		from, err = r.firstWindowFor(ctx, q.Match, q.From)
	}
	if err != nil {
		return err
	}
	err = r.Scan(ctx, wire.TimelineSubject(q.Match, wire.TimelineWindows), from, func(m Msg) (bool, error) {
		more, err := acc.record(m.Data)
		return more && err == nil, err
	})
	if err != nil {
		return err
	}
	if err := acc.flush(); err != nil {
		return err
	}
	return acc.movedBefore(q.To)
}

func isRollup(step time.Duration) bool {
	for _, s := range wire.RollupSteps {
		if s == step {
			return true
		}
	}
	return false
}

// rollups emits q's rollups of its step and returns the window record to
// go on from: the one after the last rollup's last.
func (r *Reader) rollups(ctx context.Context, q Query, acc *accumulator) (uint64, error) {
	var next uint64
	errStop := errors.New("stop")
	err := r.Scan(ctx, wire.TimelineSubject(q.Match, wire.StepName(q.Step)), 1, func(m Msg) (bool, error) {
		rec, err := acc.scan(m.Data)
		if err != nil {
			return true, nil
		}
		next, acc.rolled = rec.Last+1, rec.Start+acc.stepMs
		if rec.Start >= q.To {
			return false, errStop
		}
		return true, acc.add(rec.Start, rec.Total)
	})
	if errors.Is(err, errStop) {
		return math.MaxUint64, nil
	}
	return max(next, 1), err
}

// firstWindowFor is the sequence to read a match's window records from for
// steps from fromMs on: the first record of the earliest five-minute
// rollup that ends after fromMs, or the one after the last rollup.
func (r *Reader) firstWindowFor(ctx context.Context, match string, fromMs int64) (uint64, error) {
	big := wire.RollupSteps[len(wire.RollupSteps)-1]
	var from uint64 = 1
	err := r.Scan(ctx, wire.TimelineSubject(match, wire.StepName(big)), 1, func(m Msg) (bool, error) {
		rec, err := wire.DecodeTimelineRecord(m.Data)
		if err != nil {
			return true, nil
		}
		if rec.Start+big.Milliseconds() > fromMs {
			from = max(rec.First, 1)
			return false, nil
		}
		from = rec.Last + 1
		return true, nil
	})
	return from, err
}

// accumulator sums records into steps and emits each step once complete.
type accumulator struct {
	q      Query
	stepMs int64
	emit   func(Step) error
	// rolled is where the rollups read end: window records before it are
	// in a rollup already.
	rolled int64
	start  int64 // the step being summed; MinInt64 before the first
	counts map[string]int64
	total  int64
	// scanned holds the counts of the record last scanned; names interns
	// the emoji names, so summing allocates nothing per record.
	scanned []emojiCount
	names   map[string]string
	// moves are the view's changes to the steps of the query (nil for
	// ByArrival), applied as each step is emitted.
	moves *moves
}

type emojiCount struct {
	emoji string
	n     int64
}

// maxNames bounds the interned emoji names (a record holds at most the
// allow-list).
const maxNames = 4096

// scan decodes a record into a.scanned.
func (a *accumulator) scan(data []byte) (wire.TimelineRecord, error) {
	a.scanned = a.scanned[:0]
	return wire.ScanTimelineRecord(data, func(e []byte, n int64) {
		a.scanned = append(a.scanned, emojiCount{a.intern(e), n})
	})
}

// intern is e as a string, the same one for every record.
func (a *accumulator) intern(e []byte) string {
	name, ok := a.names[string(e)]
	if !ok {
		name = string(e)
		if len(a.names) < maxNames {
			a.names[name] = name
		}
	}
	return name
}

// record sums one window record; false when it is past the query.
func (a *accumulator) record(data []byte) (bool, error) {
	rec, err := a.scan(data)
	switch {
	case err != nil || rec.Start < a.rolled:
		return true, nil // a bad record, or one a rollup counted (never, when stored in order)
	case rec.Start >= a.q.To:
		return false, nil
	}
	return true, a.add(rec.Start, rec.Total)
}

// add sums the record scanned last, starting at startMs, into its step.
func (a *accumulator) add(startMs int64, total int64) error {
	s := wire.WindowStart(startMs, a.stepMs)
	if s < a.q.From || s >= a.q.To {
		return nil
	}
	if s != a.start {
		if err := a.flush(); err != nil {
			return err
		}
		if err := a.movedBefore(s); err != nil {
			return err
		}
		a.start, a.counts, a.total = s, make(map[string]int64, len(a.scanned)), 0
	}
	for _, c := range a.scanned {
		if c.n != 0 {
			a.counts[c.emoji] += c.n
		}
	}
	a.total += total
	return nil
}

// flush emits the step being summed, with the view's moves to it.
func (a *accumulator) flush() error {
	if a.start == math.MinInt64 {
		return nil
	}
	st := Step{Start: a.start, Counts: a.counts, Total: a.total}
	a.start, a.counts = math.MinInt64, nil
	a.moves.apply(&st)
	if st.Total == 0 && len(st.Counts) == 0 {
		return nil
	}
	return a.emit(st)
}

// movedBefore emits the steps before end that have no record of their own
// but counts moved to them (windows whose every event came late).
func (a *accumulator) movedBefore(end int64) error {
	for {
		st, ok := a.moves.before(end)
		if !ok {
			return nil
		}
		if err := a.emit(st); err != nil {
			return err
		}
	}
}

// Moments calls emit with match's stored moments whose window starts in
// [fromMs, toMs), in order.
func (r *Reader) Moments(ctx context.Context, match string, fromMs, toMs int64, emit func(*wire.Moment) error) error {
	return r.Scan(ctx, wire.MomentSubject(match), 1, func(m Msg) (bool, error) {
		mo, err := wire.DecodeMoment(m.Data)
		if err != nil {
			return true, nil
		}
		ms := mo.WindowStart.UnixMilli()
		if ms >= toMs {
			return false, nil
		}
		if ms < fromMs {
			return true, nil
		}
		return true, emit(mo)
	})
}

// Earliest is the start of match's earliest stored record (a rollup or a
// window record), or of the earliest window a late record names if that
// is earlier (a match whose first events all came late), less
// wire.MaxVideoLag if the match has video records (a program time that
// far before its receive time), and false if it has none. It reads the
// first record of each kind and every late record (a sparse subject).
func (r *Reader) Earliest(ctx context.Context, match string) (int64, bool, error) {
	best, found := int64(math.MaxInt64), false
	kinds := []string{wire.TimelineWindows}
	for _, s := range wire.RollupSteps {
		kinds = append(kinds, wire.StepName(s))
	}
	for _, k := range kinds {
		m, err := r.First(ctx, wire.TimelineSubject(match, k))
		if err != nil {
			return 0, false, err
		}
		if m.Seq == 0 {
			continue
		}
		if rec, err := wire.DecodeTimelineRecord(m.Data); err == nil && rec.Start < best {
			best, found = rec.Start, true
		}
	}
	earliest := func(m Msg) (bool, error) {
		first := int64(math.MaxInt64)
		if _, err := wire.ScanLateRecord(m.Data, func(origin int64, _ []byte, _ int64) { first = min(first, origin) }); err == nil && first < best {
			best, found = first, true
		}
		return true, nil
	}
	if err := r.Scan(ctx, wire.TimelineSubject(match, wire.TimelineLate), 1, earliest); err != nil {
		return 0, false, err
	}
	// A video record moves an event at most wire.MaxVideoLag before its
	// receive time, which is at or after the earliest so far (a late
	// event's, to where late records do).
	m, err := r.First(ctx, wire.TimelineSubject(match, wire.TimelineVideo))
	if err != nil || m.Seq == 0 || !found {
		return best, found, err
	}
	return best - wire.MaxVideoLag.Milliseconds(), true, nil
}
