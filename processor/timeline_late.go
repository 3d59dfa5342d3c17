package processor

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// A swarm's late_windows are stored as a late record on
// wire.TimelineSubject(match, wire.TimelineLate), right after its window
// record (tlMessages), so that a query by named window moves its late
// counts back to the windows they were received in.

// loadLate records match's last late record in tl.
func (p *Processor) loadLate(ctx context.Context, match string, tl *tlState) error {
	m, err := p.tlRead.Last(ctx, wire.TimelineSubject(match, wire.TimelineLate))
	if err != nil || m.Seq == 0 {
		return err
	}
	rec, err := wire.DecodeLateRecord(m.Data)
	if err != nil {
		return err
	}
	tl.lateLast, tl.lateStart = m.Seq, rec.Start
	return nil
}

// repairLate writes the late record of tl's last window record if a crash
// came between the two: from its swarm, read back by sequence. A swarm the
// stream no longer holds leaves that window's late counts where they were
// counted (logged).
func (p *Processor) repairLate(ctx context.Context, match string, tl *tlState) error {
	if tl.lastLate == 0 || tl.lateStart >= tl.lastStart {
		return nil
	}
	var sw *wire.Swarm
	err := p.swRead.Scan(ctx, wire.SwarmSubject(match), tl.swarm, func(m timeline.Msg) (bool, error) {
		if m.Seq == tl.swarm {
			sw, _ = wire.DecodeSwarm(m.Data)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if sw == nil || sw.WindowStart.UnixMilli() != tl.lastStart || len(sw.LateWindows) == 0 {
		p.log.Warn("timeline: the swarm of a window record without its late record is gone; its late counts stay in that window",
			"match", match, "window_start_ms", tl.lastStart, "swarm_seq", tl.swarm)
		return nil
	}
	m := p.lateMsg(tl, sw, tl.swarm)
	ack, err := p.store.js.PublishMsg(ctx, m.msg, m.opts...)
	if err != nil {
		return fmt.Errorf("writing %s: %w", m.msg.Subject, err)
	}
	p.met.timelineRecords.WithLabelValues(kindOf(m)).Inc()
	tl.lateLast = ack.Sequence
	return nil
}

// lateMsg is the late record of swarm sw (stored at swarm sequence seq),
// after tl's last one.
func (p *Processor) lateMsg(tl *tlState, sw *wire.Swarm, seq uint64) tlMsg {
	start := sw.WindowStart.UnixMilli()
	rec := wire.LateRecord{Start: start, Swarm: seq, Windows: sw.LateWindows}
	tl.lateStart = start
	return tlMsg{msg: encodeMsg(wire.TimelineSubject(sw.MatchID, wire.TimelineLate), rec),
		opts: []jetstream.PublishOpt{jetstream.WithMsgID(wire.LateMsgID(sw.MatchID, start)),
			jetstream.WithExpectLastSequencePerSubject(tl.lateLast)}, late: true}
}
