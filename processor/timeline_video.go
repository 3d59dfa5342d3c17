package processor

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// A swarm's video_windows are stored as a video record on
// wire.TimelineSubject(match, wire.TimelineVideo), after its window record
// (tlMessages), so that a query by program time (timeline.ByVideo) moves
// those counts to the windows of their video_ts. The window record says
// how much its video record moves (wire.TimelineRecord.Video), so a crash
// between the two is found and repaired as for late records.

// loadVideo records match's last video record in tl.
func (p *Processor) loadVideo(ctx context.Context, match string, tl *tlState) error {
	m, err := p.tlRead.Last(ctx, wire.TimelineSubject(match, wire.TimelineVideo))
	if err != nil || m.Seq == 0 {
		return err
	}
	rec, err := wire.DecodeLateRecord(m.Data)
	if err != nil {
		return err
	}
	tl.videoLast, tl.videoStart = m.Seq, rec.Start
	return nil
}

// repairVideo writes the video record of tl's last window record if a
// crash came between the two: from its swarm, read back by sequence. A
// swarm the stream no longer holds leaves that window's counts where
// they arrived in the program-time view (logged).
func (p *Processor) repairVideo(ctx context.Context, match string, tl *tlState) error {
	if tl.lastVideo == 0 || tl.videoStart >= tl.lastStart {
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
	if sw == nil || sw.WindowStart.UnixMilli() != tl.lastStart || len(sw.VideoWindows) == 0 {
		p.log.Warn("timeline: the swarm of a window record without its video record is gone; its counts stay where they arrived in the program-time view",
			"match", match, "window_start_ms", tl.lastStart, "swarm_seq", tl.swarm)
		return nil
	}
	m := p.videoMsg(tl, sw, tl.swarm)
	ack, err := p.store.js.PublishMsg(ctx, m.msg, m.opts...)
	if err != nil {
		return fmt.Errorf("writing %s: %w", m.msg.Subject, err)
	}
	p.met.timelineRecords.WithLabelValues(kindOf(m)).Inc()
	tl.videoLast = ack.Sequence
	return nil
}

// videoMsg is the video record of swarm sw (stored at swarm sequence
// seq), after tl's last one.
func (p *Processor) videoMsg(tl *tlState, sw *wire.Swarm, seq uint64) tlMsg {
	start := sw.WindowStart.UnixMilli()
	rec := wire.LateRecord{Start: start, Swarm: seq, Windows: sw.VideoWindows}
	tl.videoStart = start
	return tlMsg{msg: encodeMsg(wire.TimelineSubject(sw.MatchID, wire.TimelineVideo), rec),
		opts: []jetstream.PublishOpt{jetstream.WithMsgID(wire.VideoMsgID(sw.MatchID, start)),
			jetstream.WithExpectLastSequencePerSubject(tl.videoLast)}, video: true}
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
