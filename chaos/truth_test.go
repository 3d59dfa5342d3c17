package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// stored is what the swarm stream holds: the ground truth of what was
// published to viewers.
type stored struct {
	counts  map[string]map[string]int64 // match → emoji → events over all its swarms
	windows map[string]int              // swarm Nats-Msg-Id → copies stored
	// named is match → window → emoji → events, each in the window it was
	// received in: a swarm's counts less its late_windows in its own
	// window, its late_windows in theirs.
	named map[string]map[int64]map[string]int64
	late  map[string]int64 // match → events its swarms counted late
}

// addNamed adds n of emoji to match's window in s.named.
func (s *stored) addNamed(match string, window int64, emoji string, n int64) {
	if s.named[match] == nil {
		s.named[match] = map[int64]map[string]int64{}
	}
	if s.named[match][window] == nil {
		s.named[match][window] = map[string]int64{}
	}
	if s.named[match][window][emoji] += n; s.named[match][window][emoji] == 0 {
		delete(s.named[match][window], emoji)
	}
	if len(s.named[match][window]) == 0 {
		delete(s.named[match], window)
	}
}

// readSwarms reads every message of EMOSTREAM_SWARMS.
func (c *cluster) readSwarms(ctx context.Context) (*stored, error) {
	s, err := c.js.Stream(ctx, wire.SwarmsStream)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", wire.SwarmsStream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	st := &stored{counts: map[string]map[string]int64{}, windows: map[string]int{},
		named: map[string]map[int64]map[string]int64{}, late: map[string]int64{}}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading swarm seq %d: %w", seq, err)
		}
		sw, err := wire.DecodeSwarm(m.Data)
		if err != nil {
			return nil, fmt.Errorf("swarm seq %d: %w", seq, err)
		}
		st.windows[sw.MsgID()]++
		for e, n := range sw.Counts {
			if st.counts[sw.MatchID] == nil {
				st.counts[sw.MatchID] = map[string]int64{}
			}
			st.counts[sw.MatchID][e] += n
			st.addNamed(sw.MatchID, sw.WindowStart.UnixMilli(), e, n)
		}
		st.late[sw.MatchID] += sw.Late
		for origin, c := range sw.LateWindows {
			for e, n := range c {
				st.addNamed(sw.MatchID, origin, e, n)
				st.addNamed(sw.MatchID, sw.WindowStart.UnixMilli(), e, -n)
			}
		}
	}
	return st, nil
}

// readTimeline is match's timeline by named window (2 s steps, the
// window), as GET /v1/matches/{id}/timeline answers it: window → emoji →
// events.
func (c *cluster) readTimeline(ctx context.Context, match string) (map[int64]map[string]int64, error) {
	const step = 2 * time.Second
	q := timeline.Query{Match: match, Step: step, By: timeline.ByNamed,
		To: wire.WindowStart(time.Now().UnixMilli(), step.Milliseconds()) + step.Milliseconds()}
	out := map[int64]map[string]int64{}
	err := timeline.NewReader(c.nc, wire.TimelineStream, 0).Steps(ctx, q, func(s timeline.Step) error {
		out[s.Start] = s.Counts
		return nil
	})
	return out, err
}

// inKafka is what the events topic holds, per match: records, and copies of
// each event_id (a producer retry or a client retry stores a second copy).
type inKafka struct {
	records map[string]int64 // by match, a tail's apart (recordKey)
	copies  map[string]int   // event_id → records
}

// readKafka reads every partition of the topic from its start to its end.
func (c *cluster) readKafka(ctx context.Context) (*inKafka, error) {
	k := &inKafka{records: map[string]int64{}, copies: map[string]int{}}
	for p := range chaosPartitions {
		if err := c.readPartition(ctx, p, k); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (c *cluster) readPartition(ctx context.Context, p int, k *inKafka) error {
	conn, err := kafka.DialLeader(ctx, "tcp", c.addr["kafka"], wire.DefaultTopic, p)
	if err != nil {
		return fmt.Errorf("partition %d: %w", p, err)
	}
	defer conn.Close()
	first, end, err := conn.ReadOffsets()
	if err != nil {
		return fmt.Errorf("partition %d offsets: %w", p, err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{c.addr["kafka"]}, Topic: wire.DefaultTopic,
		Partition: p, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return err
	}
	for off := first; off < end; {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := r.FetchMessage(rctx)
		cancel()
		if err != nil {
			return fmt.Errorf("partition %d at %d of %d: %w", p, off, end, err)
		}
		off = m.Offset + 1
		var rec wire.Record
		if err := wire.DecodeRecord(m.Value, &rec); err != nil {
			continue
		}
		k.records[recordKey(rec.MatchID, rec.EmojiType == tailEmoji)]++
		k.copies[rec.EventID]++
	}
	return nil
}

// recordKey is a match's key in inKafka.records: its tail event apart.
func recordKey(match string, tail bool) string {
	if tail {
		return match + " tail"
	}
	return match
}
