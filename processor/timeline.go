package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// tlState is what this processor knows of a match's timeline
// (wire.TimelineStream): its last window record, the rollup steps still
// open, the recent window totals the moment rule compares with and its
// last moment. It lives in the match's matchState, so the state cache
// bounds it, and is rebuilt from the stream when the state is read back.
type tlState struct {
	last      uint64 // timeline sequence of the last window record; 0: none
	lastStart int64  // its window start; MinInt64: none
	swarm     uint64 // swarm stream sequence of the swarm it records
	// late and video are its late and video records (movesKind).
	late, video movesState
	steps       []stepAcc
	recent      *recentTotals
	lastMoment  int64 // window start of the last stored moment; MinInt64: none
	// broken means a publish failed: the state is read back before use.
	broken bool
}

// stepAcc sums the window records of one rollup step.
type stepAcc struct {
	start       int64 // MinInt64: none yet
	counts      map[string]int64
	total       int64
	first, last uint64 // timeline sequences of its first and last window records
	rolled      int64  // start of the last rollup stored; MinInt64: none
}

func (a *stepAcc) reset(start int64) {
	*a = stepAcc{start: start, counts: map[string]int64{}, rolled: a.rolled}
}

// tlItem is a stored swarm whose timeline records are still to write.
type tlItem struct {
	tl  *tlState
	sw  *wire.Swarm
	seq uint64
}

// tlMsg is one timeline publish; window says it is the window record,
// moves the kind of a late or video record.
type tlMsg struct {
	msg    *nats.Msg
	opts   []jetstream.PublishOpt
	window bool
	moves  *movesKind
}

// timelineOf is match's timeline state, read back from the timeline
// stream and completed from the swarm stream if st has none that is
// current. It is nil when the timeline is off or cannot be read now
// (logged; tried again at the match's next window).
func (p *Processor) timelineOf(ctx context.Context, match string, st *matchState) *tlState {
	if p.cfg.DisableTimeline {
		return nil
	}
	if st.tl != nil && !st.tl.broken && st.tl.swarm == st.seq {
		return st.tl
	}
	st.tl = nil
	tl, err := p.loadTimeline(ctx, match)
	if err == nil {
		err = p.repairMoves(ctx, match, tl)
	}
	if err == nil {
		err = p.backfill(ctx, match, tl, st.seq)
	}
	p.met.timelineLoads.Inc()
	if err != nil {
		p.timelineFailed(match, err)
		return nil
	}
	st.tl = tl
	return tl
}

// prefetchTimelines reads back, loadParallel at a time, the timelines of
// those of matches whose state is cached without a current one, so a
// window of many matches new to the session (after a restart) does not
// read them one after the other. Each read touches only its own match.
func (p *Processor) prefetchTimelines(ctx context.Context, matches []string) {
	if p.cfg.DisableTimeline {
		return
	}
	var stale []*matchState
	var names []string
	for _, m := range matches {
		if st, ok := p.s.states.get(m); ok && (st.tl == nil || st.tl.broken || st.tl.swarm != st.seq) {
			stale, names = append(stale, st), append(names, m)
		}
	}
	if len(stale) < 2 {
		return
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadParallel)
	for i, st := range stale {
		g.Go(func() error { p.timelineOf(gctx, names[i], st); return nil })
	}
	_ = g.Wait()
}

func (p *Processor) timelineFailed(match string, err error) {
	p.met.timelineErrors.Inc()
	p.log.Warn("timeline: will read it back at the match's next window", "match", match, "err", err)
}

func (p *Processor) newTimeline() *tlState {
	tl := &tlState{lastStart: math.MinInt64, late: movesState{start: math.MinInt64}, video: movesState{start: math.MinInt64}, lastMoment: math.MinInt64,
		recent: newRecentTotals(p.cfg.Moments.slots(p.cfg.Window))}
	tl.steps = make([]stepAcc, len(wire.RollupSteps))
	for i := range tl.steps {
		tl.steps[i] = stepAcc{start: math.MinInt64, rolled: math.MinInt64}
	}
	return tl
}

// loadTimeline reads match's timeline state back: the last window record,
// the last rollup of each step and the window records after the earliest
// of them, writing any rollup a crash left unwritten.
func (p *Processor) loadTimeline(ctx context.Context, match string) (*tlState, error) {
	tl := p.newTimeline()
	lastW, err := p.tlRead.Last(ctx, wire.TimelineSubject(match, wire.TimelineWindows))
	if err != nil {
		return nil, err
	}
	var from uint64 = math.MaxUint64
	for i, step := range wire.RollupSteps {
		m, err := p.tlRead.Last(ctx, wire.TimelineSubject(match, wire.StepName(step)))
		if err != nil {
			return nil, err
		}
		rec, err := decodeOrZero(m)
		if err != nil {
			return nil, err
		}
		if m.Seq == 0 {
			from = 1
			continue
		}
		tl.steps[i].rolled = rec.Start
		from = min(from, max(rec.First, 1), rec.Last+1)
	}
	if mo, err := p.tlRead.Last(ctx, wire.MomentSubject(match)); err != nil {
		return nil, err
	} else if mo.Seq > 0 {
		if m, err := wire.DecodeMoment(mo.Data); err == nil {
			tl.lastMoment = m.WindowStart.UnixMilli()
		}
	}
	if err := p.loadMoves(ctx, match, tl); err != nil {
		return nil, err
	}
	if lastW.Seq == 0 || from > lastW.Seq {
		return tl, p.setLast(tl, lastW)
	}
	err = p.tlRead.Scan(ctx, wire.TimelineSubject(match, wire.TimelineWindows), from, func(m timeline.Msg) (bool, error) {
		if m.Seq > lastW.Seq {
			return false, nil
		}
		rec, err := wire.DecodeTimelineRecord(m.Data)
		if err != nil {
			return true, nil
		}
		if tl.recent.since == math.MinInt64 {
			tl.recent.since = rec.Start
		}
		tl.recent.add(rec.Start, rec.Total, rec.Counts)
		if err := p.publishSync(ctx, p.advance(tl, match, rec.Start, rec.Counts, rec.Total)); err != nil {
			return false, err
		}
		p.acked(tl, m.Seq)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return tl, p.setLast(tl, lastW)
}

func decodeOrZero(m timeline.Msg) (*wire.TimelineRecord, error) {
	if m.Seq == 0 {
		return &wire.TimelineRecord{}, nil
	}
	return wire.DecodeTimelineRecord(m.Data)
}

// setLast records the last window record in tl.
func (p *Processor) setLast(tl *tlState, m timeline.Msg) error {
	if m.Seq == 0 {
		return nil
	}
	rec, err := wire.DecodeTimelineRecord(m.Data)
	if err != nil {
		return err
	}
	tl.last, tl.lastStart, tl.late.counted, tl.video.counted, tl.swarm = m.Seq, rec.Start, rec.Late, rec.Video, rec.Swarm
	return nil
}

// backfill writes the window records of match's swarms stored after the
// one tl last recorded, up to swarm sequence upTo: those whose records a
// crash or a takeover left unwritten.
func (p *Processor) backfill(ctx context.Context, match string, tl *tlState, upTo uint64) error {
	if upTo <= tl.swarm {
		return nil
	}
	return p.swRead.Scan(ctx, wire.SwarmSubject(match), tl.swarm+1, func(m timeline.Msg) (bool, error) {
		if m.Seq > upTo {
			return false, nil
		}
		sw, err := wire.DecodeSwarm(m.Data)
		if err != nil || sw.WindowStart.UnixMilli() <= tl.lastStart {
			return true, nil
		}
		p.met.timelineBackfilled.Inc()
		return true, p.writeSync(ctx, tl, sw, m.Seq)
	})
}

// writeSync writes the timeline records of one stored swarm and waits.
func (p *Processor) writeSync(ctx context.Context, tl *tlState, sw *wire.Swarm, seq uint64) error {
	for _, m := range p.tlMessages(tl, sw, seq) {
		ack, err := p.store.js.PublishMsg(ctx, m.msg, m.opts...)
		if err != nil {
			return fmt.Errorf("writing %s: %w", m.msg.Subject, err)
		}
		p.met.timelineRecords.WithLabelValues(kindOf(m)).Inc()
		p.recordStored(tl, m, ack.Sequence)
	}
	return nil
}

// recordStored records in tl that its window or late record m is stored at
// seq.
func (p *Processor) recordStored(tl *tlState, m tlMsg, seq uint64) {
	switch {
	case m.window:
		p.acked(tl, seq)
	case m.moves != nil:
		m.moves.state(tl).last = seq
	}
}

func (p *Processor) publishSync(ctx context.Context, msgs []tlMsg) error {
	for _, m := range msgs {
		if _, err := p.store.js.PublishMsg(ctx, m.msg, m.opts...); err != nil {
			return fmt.Errorf("writing %s: %w", m.msg.Subject, err)
		}
		p.met.timelineRecords.WithLabelValues(kindOf(m)).Inc()
	}
	return nil
}

func kindOf(m tlMsg) string {
	switch {
	case m.window:
		return "window"
	case m.moves != nil:
		return m.moves.name
	case m.msg.Header.Get("Emostream-Kind") == "moment":
		return "moment"
	}
	return "rollup"
}

// tlMessages advances tl past swarm sw (stored at swarm sequence seq) and
// returns what to publish, in order: the rollups of the steps it closes,
// its window record, its late record (if it has late counts), its video
// record (if it has video_windows), its moments.
// The late record comes after the window record, so a reader never finds
// it without the counts it attributes (a crash in between is repaired by
// repairMoves).
func (p *Processor) tlMessages(tl *tlState, sw *wire.Swarm, seq uint64) []tlMsg {
	start := sw.WindowStart.UnixMilli()
	msgs := p.advance(tl, sw.MatchID, start, sw.Counts, sw.Total)
	video := sumWindows(sw.VideoWindows)
	rec := wire.TimelineRecord{Start: start, Counts: sw.Counts, Total: sw.Total, Swarm: seq, Late: sw.Late, Video: video}
	msgs = append(msgs, tlMsg{msg: encodeMsg(wire.TimelineSubject(sw.MatchID, wire.TimelineWindows), rec),
		opts: []jetstream.PublishOpt{jetstream.WithMsgID(wire.TimelineMsgID(sw.MatchID, wire.TimelineWindows, start)),
			jetstream.WithExpectLastSequencePerSubject(tl.last)}, window: true})
	if len(sw.LateWindows) > 0 && start > tl.late.start {
		msgs = append(msgs, p.movesMsg(tl, lateMoves, sw, seq))
	}
	if video > 0 && start > tl.video.start {
		msgs = append(msgs, p.movesMsg(tl, videoMoves, sw, seq))
	}
	if len(sw.Moments) > 0 && start > tl.lastMoment { // a window's moments are stored together, once
		for i := range sw.Moments {
			m := encodeMsg(wire.MomentSubject(sw.MatchID), &sw.Moments[i])
			m.Header.Set("Emostream-Kind", "moment")
			msgs = append(msgs, tlMsg{msg: m, opts: []jetstream.PublishOpt{jetstream.WithMsgID(wire.MomentMsgID(&sw.Moments[i]))}})
		}
		tl.lastMoment = start
	}
	tl.lastStart, tl.late.counted, tl.video.counted, tl.swarm = start, sw.Late, video, seq
	tl.recent.add(start, sw.Total, sw.Counts)
	return msgs
}

// advance sums one window record into tl's steps and returns the rollups
// of the steps it closes. A step whose rollup is stored is not summed.
func (p *Processor) advance(tl *tlState, match string, start int64, counts map[string]int64, total int64) []tlMsg {
	var out []tlMsg
	for i, step := range wire.RollupSteps {
		a := &tl.steps[i]
		s := wire.WindowStart(start, step.Milliseconds())
		if s <= a.rolled {
			continue
		}
		if s != a.start {
			if a.start != math.MinInt64 && a.total > 0 && a.last > 0 {
				out = append(out, rollupMsg(match, step, a))
				a.rolled = a.start
			}
			a.reset(s)
		}
		for e, n := range counts {
			a.counts[e] += n
		}
		a.total += total
	}
	return out
}

func rollupMsg(match string, d time.Duration, a *stepAcc) tlMsg {
	rec := wire.TimelineRecord{Start: a.start, Counts: a.counts, Total: a.total, First: a.first, Last: a.last}
	return tlMsg{msg: encodeMsg(wire.TimelineSubject(match, wire.StepName(d)), rec),
		opts: []jetstream.PublishOpt{jetstream.WithMsgID(wire.TimelineMsgID(match, wire.StepName(d), a.start))}}
}

// acked records that tl's newest window record is stored at seq.
func (p *Processor) acked(tl *tlState, seq uint64) {
	tl.last = seq
	for i := range tl.steps {
		a := &tl.steps[i]
		if a.start == math.MinInt64 || a.start <= a.rolled {
			continue
		}
		if a.first == 0 {
			a.first = seq
		}
		a.last = seq
	}
}

// tlSent is one swarm's timeline records, sent and not yet acknowledged.
type tlSent struct {
	it      tlItem
	msgs    []tlMsg
	futures []jetstream.PubAckFuture
	err     error
}

// sendTimeline sends the timeline records of the swarms the window stored,
// all at once, without waiting: awaitTimeline waits for them before the
// next window uses the timelines, so their storing overlaps the wait for
// that window instead of delaying this one's acknowledgements.
func (p *Processor) sendTimeline() {
	for _, it := range p.tlQueue {
		s := tlSent{it: it, msgs: p.tlMessages(it.tl, it.sw, it.seq)}
		for _, m := range s.msgs {
			f, err := p.store.js.PublishMsgAsync(m.msg, m.opts...)
			if err != nil {
				s.err = err
				break
			}
			s.futures = append(s.futures, f)
		}
		p.tlSent = append(p.tlSent, s)
	}
	p.tlQueue = nil
}

// awaitTimeline waits for the records sendTimeline sent. A match whose
// records failed is read back at its next window; its swarms are stored
// either way.
func (p *Processor) awaitTimeline(ctx context.Context) {
	sent := p.tlSent
	p.tlSent = nil
	for _, s := range sent {
		err := s.err
		for i, f := range s.futures {
			seq, ferr := awaitFuture(ctx, f)
			if ferr != nil {
				err = errors.Join(err, ferr)
				continue
			}
			p.met.timelineRecords.WithLabelValues(kindOf(s.msgs[i])).Inc()
			p.recordStored(s.it.tl, s.msgs[i], seq)
		}
		if err != nil {
			s.it.tl.broken = true
			p.timelineFailed(s.it.sw.MatchID, err)
		}
	}
}

// encodeMsg is a message on subject with v's JSON.
func encodeMsg(subject string, v any) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data, _ = json.Marshal(v) // records and moments always encode
	return m
}

func awaitFuture(ctx context.Context, f jetstream.PubAckFuture) (uint64, error) {
	select {
	case ack := <-f.Ok():
		return ack.Sequence, nil
	case err := <-f.Err():
		return 0, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
