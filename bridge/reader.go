package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/wire"
)

// Fetch sizes: one fetch returns at most fetchMaxBytes, and waits at most
// fetchMaxWait for a first byte, so the worker learns soon that it is caught
// up.
const (
	fetchMaxBytes = 4 << 20
	fetchMaxWait  = 100 * time.Millisecond
	// badLogEvery rate-limits the log of undecodable records.
	badLogEvery = 10 * time.Second
)

// item is one Kafka record, decoded as far as the worker needs it.
type item struct {
	off, tsMs           int64
	match, emoji, event string
	o                   outcome // counted or bad
}

// chunk is what one fetch returned.
type chunk struct {
	items []item
	end   int64 // the offset the next fetch starts at
	hwm   int64 // the partition's high watermark
}

// fetcher reads one partition from one connection, decodes its records and
// sends them to the partition's worker a fetch at a time.
type fetcher struct {
	conn      *kafka.Conn
	log       *slog.Logger
	lastBad   time.Time // when a bad record was last logged
	badQuiet  int       // bad records not logged since
	free      chan []item
	partition int32
}

// run reads from offset from until ctx ends or a fetch fails.
func (f *fetcher) run(ctx context.Context, from int64, out chan<- chunk) error {
	if _, err := f.conn.Seek(from, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		return fmt.Errorf("seeking partition %d to %d: %w", f.partition, from, err)
	}
	for ctx.Err() == nil {
		c, err := f.fetch()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetching partition %d: %w", f.partition, err)
		}
		select {
		case out <- c:
		case <-ctx.Done():
		}
	}
	return nil
}

// fetch reads one batch of records.
func (f *fetcher) fetch() (chunk, error) {
	f.conn.SetReadDeadline(time.Now().Add(fetchMaxWait + 10*time.Second))
	b := f.conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: fetchMaxWait})
	c := chunk{hwm: b.HighWaterMark(), items: f.buffer()}
	var r wire.Record
	for {
		m, err := b.ReadMessage()
		if err != nil {
			break
		}
		c.items = append(c.items, f.item(&m, &r))
	}
	// kafka-go reports a fetch that found nothing new as RequestTimedOut.
	if err := b.Close(); err != nil && !errors.Is(err, kafka.RequestTimedOut) {
		return c, err
	}
	c.end, _ = f.conn.Offset()
	return c, nil
}

// item decodes m, using r as scratch.
func (f *fetcher) item(m *kafka.Message, r *wire.Record) item {
	it := item{off: m.Offset, tsMs: m.Time.UnixMilli()}
	if err := wire.DecodeRecord(m.Value, r); err != nil {
		it.o = bad
		f.logBad(m.Offset, err)
		return it
	}
	it.match, it.emoji, it.event = r.MatchID, r.EmojiType, r.EventID
	return it
}

// logBad logs an undecodable record, at most once per badLogEvery.
func (f *fetcher) logBad(off int64, err error) {
	if now := time.Now(); now.Sub(f.lastBad) >= badLogEvery {
		f.log.Warn("undecodable record counted as bad", "partition", f.partition, "offset", off,
			"err", err, "not_logged_since", f.badQuiet)
		f.lastBad, f.badQuiet = now, 0
		return
	}
	f.badQuiet++
}

// buffer returns an empty item slice, reused if the worker gave one back.
func (f *fetcher) buffer() []item {
	select {
	case b := <-f.free:
		return b[:0]
	default:
		return nil
	}
}
