package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// minValueBytes and maxValueBytes bound the buffer a record's value is
	// read into; it grows when a value does not fit.
	minValueBytes = 1 << 20
	maxValueBytes = 64 << 20
	// badLogEvery rate-limits the log of undecodable records.
	badLogEvery = 10 * time.Second
)

// item is one Kafka record, decoded as far as the worker needs it.
type item struct {
	off, tsMs    int64
	videoMs      int64   // the record's video_ts within its bounds, else 0
	match, emoji string  // interned: no allocation per record
	event        uint64  // eventHasher.sum of the event's identity, 0 for none
	user         uint64  // eventHasher.user of its user_id, with an event
	o            outcome // counted or bad
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
	now       func() time.Time
	buf       []byte             // values are read into it
	rec       wire.RecordScanner // decoding scratch
	names     map[string]string  // interned match and emoji names
	ids       eventHasher
}

// errLongEmoji means a record's emoji_type is longer than any allow-list
// spelling: ingest never writes one, and counting it could outgrow a
// partial's bound.
var errLongEmoji = fmt.Errorf("emoji_type longer than %d bytes", wire.MaxEmojiBytes)

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

// fetch reads one batch of records. It reads values into one reused buffer
// (kafka-go's Batch.Read), which makes the bridge about a quarter cheaper per
// record than ReadMessage but drops the record's Kafka timestamp: the window
// comes from the value's received_at, which wire.Record defines as that
// timestamp.
func (f *fetcher) fetch() (chunk, error) {
	f.conn.SetReadDeadline(time.Now().Add(fetchMaxWait + 10*time.Second))
	b := f.conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: fetchMaxWait})
	c := chunk{hwm: b.HighWaterMark(), items: f.buffer()}
	want, _ := f.conn.Offset()
	for {
		n, err := b.Read(f.buf[:cap(f.buf)])
		if err != nil {
			break
		}
		if off := b.Offset() - 1; off >= want { // a batch may begin before want
			c.items = append(c.items, f.item(off, f.buf[:n]))
		}
	}
	err := b.Close()
	c.end, _ = f.conn.Offset()
	switch {
	case errors.Is(err, io.ErrShortBuffer) && cap(f.buf) < maxValueBytes:
		f.buf = make([]byte, 0, 2*cap(f.buf)) // the next fetch starts at the large record
	case errors.Is(err, kafka.RequestTimedOut): // how kafka-go reports a fetch that found nothing
	case err != nil:
		return c, err
	}
	return c, nil
}

// item decodes the record at offset off. A record without received_at is
// windowed by the time it is read.
func (f *fetcher) item(off int64, value []byte) item {
	it := item{off: off}
	err := f.rec.Scan(value)
	if err == nil && len(f.rec.EmojiType) > wire.MaxEmojiBytes {
		err = errLongEmoji
	}
	if err != nil {
		it.o, it.tsMs = bad, f.now().UnixMilli()
		f.logBad(off, err)
		return it
	}
	it.tsMs, it.match, it.emoji = f.rec.ReceivedAt, f.intern(f.rec.MatchID), f.intern(f.rec.EmojiType)
	if it.event = f.ids.sum(f.rec.UserID, f.rec.MatchID, f.rec.EventID); it.event != 0 {
		it.user = f.ids.user(f.rec.UserID)
	}
	if it.tsMs == 0 {
		it.tsMs = f.now().UnixMilli()
	}
	if v := f.rec.VideoTS; v != 0 && wire.VideoInRange(v, it.tsMs) {
		it.videoMs = v // ingest checked it; one written by another producer out of bounds counts as absent
	}
	return it
}

// maxNames bounds the interned names (match ids of at most 64 bytes and
// emojis of at most wire.MaxEmojiBytes, so about 10 MiB per partition at
// most); past it the table starts again.
const maxNames = 1 << 16

// intern returns b as a string, allocating only the first time it is seen.
func (f *fetcher) intern(b []byte) string {
	if s, ok := f.names[string(b)]; ok {
		return s
	}
	if f.names == nil || len(f.names) >= maxNames {
		f.names = make(map[string]string)
	}
	s := string(b)
	f.names[s] = s
	return s
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
