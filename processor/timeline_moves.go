package processor

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// movesKind is one kind of record that moves some of a window's counts to
// other windows in one view of the timeline:
//   - a swarm's late_windows are stored as a late record on
//     wire.TimelineSubject(match, wire.TimelineLate), so that a query by
//     named window moves its late counts back to the windows they were
//     received in;
//   - its video_windows as a video record on wire.TimelineSubject(match,
//     wire.TimelineVideo), so that a query by program time
//     (timeline.ByVideo) moves those counts to the windows of their
//     video_ts.
//
// Each is stored right after its window record (tlMessages), which says how
// much it moves (wire.TimelineRecord.Late, .Video), so a reader never finds
// it without the counts it attributes, and a crash between the two is found
// and repaired from the swarm (repairMoves).
type movesKind struct {
	name    string // wire.TimelineLate or wire.TimelineVideo: its subject's kind, its records' metric label
	windows func(*wire.Swarm) map[int64]map[string]int64
	state   func(*tlState) *movesState
	gone    string // logged when the swarm to repair from is gone
}

// movesState is what a tlState knows of one kind of moves record.
type movesState struct {
	counted int64  // what the last window record says it moves (its Late, its Video)
	last    uint64 // timeline sequence of the last moves record; 0: none
	start   int64  // its window start; MinInt64: none
}

var (
	lateMoves = &movesKind{name: wire.TimelineLate,
		windows: func(sw *wire.Swarm) map[int64]map[string]int64 { return sw.LateWindows },
		state:   func(tl *tlState) *movesState { return &tl.late },
		gone:    "timeline: the swarm of a window record without its late record is gone; its late counts stay in that window"}
	videoMoves = &movesKind{name: wire.TimelineVideo,
		windows: func(sw *wire.Swarm) map[int64]map[string]int64 { return sw.VideoWindows },
		state:   func(tl *tlState) *movesState { return &tl.video },
		gone:    "timeline: the swarm of a window record without its video record is gone; its counts stay where they arrived in the program-time view"}
	movesKinds = []*movesKind{lateMoves, videoMoves}
)

// loadMoves records match's last moves record of each kind in tl.
func (p *Processor) loadMoves(ctx context.Context, match string, tl *tlState) error {
	for _, k := range movesKinds {
		m, err := p.tlRead.Last(ctx, wire.TimelineSubject(match, k.name))
		if err != nil {
			return err
		}
		if m.Seq == 0 {
			continue
		}
		rec, err := wire.DecodeLateRecord(m.Data)
		if err != nil {
			return err
		}
		s := k.state(tl)
		s.last, s.start = m.Seq, rec.Start
	}
	return nil
}

// repairMoves writes the moves records of tl's last window record that a
// crash left unwritten: from its swarm, read back by sequence. A swarm the
// stream no longer holds leaves that window's counts where they were
// counted in that view (logged).
func (p *Processor) repairMoves(ctx context.Context, match string, tl *tlState) error {
	var sw *wire.Swarm
	read := false
	for _, k := range movesKinds {
		if s := k.state(tl); s.counted == 0 || s.start >= tl.lastStart {
			continue
		}
		if !read {
			err := p.swRead.Scan(ctx, wire.SwarmSubject(match), tl.swarm, func(m timeline.Msg) (bool, error) {
				if m.Seq == tl.swarm {
					sw, _ = wire.DecodeSwarm(m.Data)
				}
				return false, nil
			})
			if err != nil {
				return err
			}
			read = true
		}
		if sw == nil || sw.WindowStart.UnixMilli() != tl.lastStart || len(k.windows(sw)) == 0 {
			p.log.Warn(k.gone, "match", match, "window_start_ms", tl.lastStart, "swarm_seq", tl.swarm)
			continue
		}
		m := p.movesMsg(tl, k, sw, tl.swarm)
		ack, err := p.store.js.PublishMsg(ctx, m.msg, m.opts...)
		if err != nil {
			return fmt.Errorf("writing %s: %w", m.msg.Subject, err)
		}
		p.met.timelineRecords.WithLabelValues(kindOf(m)).Inc()
		k.state(tl).last = ack.Sequence
	}
	return nil
}

// movesMsg is the moves record of kind k of swarm sw (stored at swarm
// sequence seq), after tl's last one.
func (p *Processor) movesMsg(tl *tlState, k *movesKind, sw *wire.Swarm, seq uint64) tlMsg {
	start := sw.WindowStart.UnixMilli()
	s := k.state(tl)
	rec := wire.LateRecord{Start: start, Swarm: seq, Windows: k.windows(sw)}
	s.start = start
	return tlMsg{msg: encodeMsg(wire.TimelineSubject(sw.MatchID, k.name), rec),
		opts: []jetstream.PublishOpt{jetstream.WithMsgID(wire.TimelineMsgID(sw.MatchID, k.name, start)),
			jetstream.WithExpectLastSequencePerSubject(s.last)}, moves: k}
}

// sumWindows is the sum of every count of ws.
func sumWindows(ws map[int64]map[string]int64) int64 {
	var n int64
	for _, c := range ws {
		for _, k := range c {
			n += k
		}
	}
	return n
}
