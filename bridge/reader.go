package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emostream/emostream/internal/ratelog"
	"github.com/emostream/emostream/wire"
)

// Fetch sizes: one fetch returns at most fetchMaxBytes, and waits at most
// fetchMaxWait for a first byte, so the worker learns soon that it is caught
// up.
const (
	fetchMaxBytes = 4 << 20
	fetchMaxWait  = 100 * time.Millisecond
	// maxBatchBytes bounds one record batch: as fetched (a broker returns
	// a first batch larger than fetchMaxBytes whole) and decompressed.
	maxBatchBytes = 64 << 20
	// recordLogEvery rate-limits each warning about records (undecodable,
	// received_at refused).
	recordLogEvery = 10 * time.Second
)

// item is one Kafka record, decoded as far as the worker needs it.
type item struct {
	off, tsMs    int64
	videoMs      int64   // the record's video_ts within its bounds, else 0
	match, emoji string  // interned: no allocation per record
	event        uint64  // eventHasher.sum of the event's identity, 0 for none
	user         uint64  // eventHasher.user of its user_id, with an event
	o            outcome // counted or bad
	retimed      bool    // windowed by the bridge's clock: its received_at was absurd (saneReceiveTime)
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
	raw       *rawFetcher
	log       *slog.Logger
	badLog    ratelog.Limiter // undecodable records
	timeLog   ratelog.Limiter // records windowed by the bridge's clock
	free      chan []item
	partition int32
	now       func() time.Time
	leadMs    int64 // how far ahead of now a received_at may be: one window (saneReceiveTime)
	batches   batchReader
	rec       wire.RecordScanner // decoding scratch
	names     map[string]string  // interned match and emoji names
	recent    [64]string         // the last name interned in each slot of intern
	ids       eventHasher
}

// errLongEmoji means a record's emoji_type is longer than any allow-list
// spelling: ingest never writes one, and counting it could outgrow a
// partial's bound.
var errLongEmoji = fmt.Errorf("emoji_type longer than %d bytes", wire.MaxEmojiBytes)

// run reads from offset from until ctx ends or a fetch fails.
func (f *fetcher) run(ctx context.Context, from int64, out chan<- chunk) error {
	for ctx.Err() == nil {
		c, err := f.fetch(from)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetching partition %d at offset %d: %w", f.partition, from, err)
		}
		from = c.end
		select {
		case out <- c:
		case <-ctx.Done():
		}
	}
	return nil
}

// fetch reads the records from offset want on: one Fetch request, its
// record batches walked in place. The window of a record comes from its
// value's received_at, which wire.Record defines as the record's Kafka
// timestamp; the timestamp itself is not read.
func (f *fetcher) fetch(want int64) (chunk, error) {
	set, hwm, err := f.raw.fetch(want, fetchMaxWait)
	if err != nil {
		return chunk{}, err
	}
	c := chunk{hwm: hwm, items: f.buffer()}
	nowMs := f.now().UnixMilli()
	f.batches.reset(set)
	f.batches.next = want
	for {
		off, value, ok, err := f.batches.record()
		if err != nil {
			return chunk{}, err
		}
		if !ok {
			break
		}
		if off >= want { // a batch may begin before want
			c.items = append(c.items, f.item(off, value, nowMs))
		}
	}
	c.end = f.batches.next
	return c, nil
}

// item decodes the record at offset off, read when the bridge's clock
// was at nowMs. A bad record, or one whose received_at saneReceiveTime
// refuses, is windowed by nowMs.
func (f *fetcher) item(off int64, value []byte, nowMs int64) item {
	it := item{off: off, tsMs: nowMs}
	err := f.rec.Scan(value)
	if err == nil && len(f.rec.EmojiType) > wire.MaxEmojiBytes {
		err = errLongEmoji
	}
	if err != nil {
		it.o = bad
		f.logBad(off, err)
		return it
	}
	it.match, it.emoji = f.intern(f.rec.MatchID), f.intern(f.rec.EmojiType)
	if it.event = f.ids.sum(f.rec.UserID, f.rec.MatchID, f.rec.EventID); it.event != 0 {
		it.user = f.ids.user(f.rec.UserID)
	}
	if at := f.rec.ReceivedAt; saneReceiveTime(at, nowMs, f.leadMs) {
		it.tsMs = at
	} else if at != 0 {
		it.retimed = true
		f.logRetimed(off, at, nowMs)
	}
	if v := f.rec.VideoTS; v != 0 && wire.VideoInRange(v, it.tsMs) {
		it.videoMs = v // ingest checked it; one written by another producer out of bounds counts as absent
	}
	return it
}

// saneReceiveTime reports whether receivedAt, a record's received_at read
// at the bridge's clock nowMs, is the receive time to window the record
// by. It is ingest's clock when it took the event, so a sane one is near
// now: positive (0 is absent; a negative one came from another producer)
// and at most leadMs ahead of nowMs (not from an ingest host whose clock
// jumped ahead, nor year 9999 or math.MaxInt64 from another producer). A
// record with any other is windowed by nowMs, as if received when read:
// counted, never lost, and never in a window that the partition's tick
// would not close in time or that a swarm could not encode.
func saneReceiveTime(receivedAt, nowMs, leadMs int64) bool {
	return receivedAt > 0 && receivedAt-nowMs <= leadMs
}

// maxNames bounds the interned names (match ids of at most 64 bytes and
// emojis of at most wire.MaxEmojiBytes, so about 10 MiB per partition at
// most); past it the table starts again.
const maxNames = 1 << 16

// intern returns b as a string, allocating only the first time it is seen.
// A name is first looked for in recent, by its length and last byte: a
// stream's records repeat a few matches and emojis, and one comparison
// costs less than the map's hash and lookup.
func (f *fetcher) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	slot := &f.recent[(len(b)*7+int(b[len(b)-1]))%len(f.recent)]
	if *slot == string(b) {
		return *slot
	}
	s, ok := f.names[string(b)]
	if !ok {
		if f.names == nil || len(f.names) >= maxNames {
			f.names = make(map[string]string)
		}
		s = string(b)
		f.names[s] = s
	}
	*slot = s
	return s
}

// logBad logs an undecodable record, at most once per recordLogEvery.
func (f *fetcher) logBad(off int64, err error) {
	if quiet, ok := f.badLog.Allow(time.Now(), recordLogEvery); ok {
		f.log.Warn("undecodable record counted as bad", "partition", f.partition, "offset", off,
			"err", err, "not_logged_since", quiet)
	}
}

// logRetimed logs a record windowed by the bridge's clock nowMs instead of
// its received_at, at most once per recordLogEvery.
func (f *fetcher) logRetimed(off, receivedAt, nowMs int64) {
	if quiet, ok := f.timeLog.Allow(time.Now(), recordLogEvery); ok {
		f.log.Warn("record's received_at is not positive or ahead of the clock; counted as received now",
			"partition", f.partition, "offset", off, "received_at", receivedAt, "now", nowMs,
			"not_logged_since", quiet)
	}
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
