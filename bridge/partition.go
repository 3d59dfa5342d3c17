package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// publishTimeout bounds one partial's publish.
const publishTimeout = 10 * time.Second

// partition is the worker of one owned partition. Its goroutine owns the
// open window, the dedup set and the subject's last sequence; the fetcher
// talks to it over a channel.
type partition struct {
	b        *Bridge
	id       int32
	label    string
	windower *windower
	dd       *dedup
	seq      uint64 // the last sequence stored on the partition's subject
	caughtUp bool
	lagHWM   int64          // the high watermark of the last fetch
	nowMs    int64          // the bridge's clock when the chunk being taken arrived
	dropped  [reasons]int64 // dd.notRemembered already added to the metric
	commit   func(partition int32, next int64)
	free     chan []item
}

// resumed is where a partition's last published partial left it.
type resumed struct {
	seq     uint64
	last    *wire.Partial // nil when nothing was ever published
	subject string
}

// runPartition works partition id until ctx ends or something fails: it
// reads the last partial, reads Kafka from there, and publishes partials.
func (b *Bridge) runPartition(ctx context.Context, id int32, commit func(int32, int64)) error {
	b.metrics.declare(strconv.Itoa(int(id)))
	p, f, warm, err := b.openPartition(ctx, id, commit)
	if err != nil {
		return err
	}
	defer f.raw.conn.Close()
	defer context.AfterFunc(ctx, func() { f.raw.conn.Close() })()
	g, ctx := errgroup.WithContext(ctx)
	chunks := make(chan chunk, 4)
	g.Go(func() error { return f.run(ctx, warm, chunks) })
	g.Go(func() error { return p.loop(ctx, chunks) })
	return g.Wait()
}

// openPartition resumes partition id: where its last partial ended, the
// offsets to count and to re-read from (warm) on a kafka-go connection to
// its leader, which it closes, and the fetcher on a connection of its own.
func (b *Bridge) openPartition(ctx context.Context, id int32, commit func(int32, int64)) (_ *partition, _ *fetcher, warm int64, _ error) {
	st, err := b.resume(ctx, id)
	if err != nil {
		return nil, nil, 0, err
	}
	conn, err := b.dial(ctx, id)
	if err != nil {
		return nil, nil, 0, err
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	next, warm, err := b.startOffsets(conn, id, st.last)
	if err != nil {
		return nil, nil, 0, err
	}
	p := b.newPartition(id, st, next, commit)
	b.metrics.rereading.WithLabelValues(p.label).Set(float64(max(next-warm, 0)))
	if st.last != nil && next < st.last.NextOffset() {
		// After a regression, store the new resume point before anything
		// else: a restart in between would otherwise resume at the old one
		// and skip the records appended since.
		if err := p.publish(ctx, regressionMarker(st.last, next)); err != nil {
			return nil, nil, 0, err
		}
	}
	f, err := b.newFetcher(ctx, conn, id, p.free)
	if err != nil {
		return nil, nil, 0, err
	}
	return p, f, warm, nil
}

func (b *Bridge) newPartition(id int32, st resumed, next int64, commit func(int32, int64)) *partition {
	floor := int64(noFloor)
	if st.last != nil {
		floor = resumeFloor(st.last, b.cfg.Window.Milliseconds(), b.cfg.Now().UnixMilli())
	}
	return &partition{b: b, id: id, label: strconv.Itoa(int(id)), seq: st.seq, commit: commit,
		windower: newWindower(b.cfg.Topic, id, b.cfg.Window.Milliseconds(), b.cfg.CloseDelay.Milliseconds(), next, floor,
			b.cfg.MaxPartialBytes),
		dd: newDedup(b.cfg.DedupHorizon.Milliseconds(), dedupCapacity(b.cfg.DedupMemory, b.cfg.DedupPerUser),
			b.cfg.DedupPerUser),
		free: make(chan []item, 8)}
}

// resume reads the last partial published for partition id.
func (b *Bridge) resume(ctx context.Context, id int32) (resumed, error) {
	st := resumed{subject: wire.PartialSubject(id)}
	msg, err := b.stream.GetLastMsgForSubject(ctx, st.subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the last partial of partition %d: %w", id, err)
	}
	st.last, err = wire.DecodePartial(msg.Data)
	if errors.Is(err, wire.ErrWindowRange) { // an older bridge's, of an absurd received_at: its offsets still hold
		b.log.Warn("the last partial of this partition names a window no swarm can encode; resuming after it",
			"partition", id, "seq", msg.Sequence, "err", err)
		err = nil
	}
	if err != nil {
		return st, fmt.Errorf("last partial of partition %d (seq %d): %w", id, msg.Sequence, err)
	}
	if st.last.Topic != b.cfg.Topic || st.last.Partition != id {
		return st, fmt.Errorf("last partial on %s is of %s/%d", st.subject, st.last.Topic, st.last.Partition)
	}
	st.seq = msg.Sequence
	return st, nil
}

// dial connects to the leader of partition id.
func (b *Bridge) dial(ctx context.Context, id int32) (*kafka.Conn, error) {
	var err error
	for _, addr := range b.cfg.KafkaBrokers {
		var conn *kafka.Conn
		if conn, err = b.dialer.DialLeader(ctx, "tcp", addr, b.cfg.Topic, int(id)); err == nil {
			return conn, nil
		}
	}
	return nil, fmt.Errorf("dialling the leader of partition %d: %w", id, err)
}

// newFetcher opens the fetches' own connection to the broker conn is
// connected to, the partition's leader.
func (b *Bridge) newFetcher(ctx context.Context, conn *kafka.Conn, id int32, free chan []item) (*fetcher, error) {
	leader := conn.Broker()
	addr := net.JoinHostPort(leader.Host, strconv.Itoa(leader.Port))
	rc, err := b.kafka.DialRaw(ctx, addr, clientID)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s, the leader of partition %d, to fetch: %w", addr, id, err)
	}
	raw, err := newRawFetcher(rc, b.cfg.Topic, id)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &fetcher{raw: raw, log: b.log, partition: id, free: free, now: b.cfg.Now,
		leadMs: b.cfg.Window.Milliseconds()}, nil
}

// startOffsets returns the offset to resume counting at, and the earlier
// offset to start reading at so the dedup set is rebuilt first.
func (b *Bridge) startOffsets(conn *kafka.Conn, id int32, last *wire.Partial) (next, warm int64, err error) {
	first, hwm, err := conn.ReadOffsets()
	if err != nil {
		return 0, 0, fmt.Errorf("reading the offsets of partition %d: %w", id, err)
	}
	if last == nil {
		next = b.freshStart(conn, id, first, hwm)
		return next, b.freshWarm(conn, first, next), nil
	}
	next = last.NextOffset()
	switch {
	case next > hwm:
		return b.afterRegression(conn, id, last, first, hwm)
	case next < first:
		b.log.Error("records deleted from Kafka before they were counted", "partition", id,
			"resume_offset", next, "first_offset", first, "lost", first-next)
		return next, first, nil
	}
	return next, b.warmStart(conn, last, first, next), nil
}

// freshStart is where a partition with no partial in the store starts
// counting: the first record received within FreshLookback before now, so
// a new JetStream store on a topic with a long history does not count it
// all again and publish it as a flood of old swarms. The records skipped
// are reported (a warning and history_skipped_records_total). A negative
// FreshLookback counts the whole topic, on purpose. The dedup set is
// warmed from the records within its horizon before that (freshWarm).
func (b *Bridge) freshStart(conn *kafka.Conn, id int32, first, hwm int64) int64 {
	if b.cfg.FreshLookback < 0 || first >= hwm {
		return first
	}
	since := b.cfg.Now().Add(-b.cfg.FreshLookback)
	off, err := conn.ReadOffset(since)
	switch {
	case err != nil:
		b.log.Warn("finding where a fresh partition starts; counting its whole log", "partition", id, "err", err)
		return first
	case off < first || off > hwm: // no record received since then
		off = hwm
	}
	if off > first {
		b.metrics.history.WithLabelValues(strconv.Itoa(int(id))).Add(float64(off - first))
		b.log.Warn("no partial of this partition in the store: counting from the records received in the last "+
			b.cfg.FreshLookback.String()+"; older ones are history and stay uncounted (--fresh-lookback 0 counts them)",
			"partition", id, "skipped_records", off-first, "from_offset", off)
	}
	return off
}

// freshWarm is where a fresh partition starting at next re-reads records
// for its dedup set: the dedup horizon before the lookback (warmFrom).
func (b *Bridge) freshWarm(conn *kafka.Conn, first, next int64) int64 {
	if next == first {
		return next
	}
	return b.warmFrom(conn, b.cfg.Now().Add(-b.cfg.FreshLookback), first, next)
}

// afterRegression resumes a partition whose log now ends before the offset
// its last partial resumes at: the broker lost the tail of its log (an
// unclean failure), records that were already counted. Every record left
// below hwm was counted; records appended since then carry receive times
// after the last partial's window, so counting resumes at the first record
// at or after that window's end. It is reported loudly, as an error log and
// the offset_regressions_total metric, and counting goes on: the partials'
// offsets step back, which the processor allows (it tracks partials by
// their stream sequence).
func (b *Bridge) afterRegression(conn *kafka.Conn, id int32, last *wire.Partial, first, hwm int64) (next, warm int64, err error) {
	b.metrics.regressions.WithLabelValues(strconv.Itoa(int(id))).Inc()
	next = hwm
	end := time.UnixMilli(wire.WindowEnd(last.WindowStartMs, last.WindowMs))
	if off, err := conn.ReadOffset(end); err == nil && off >= first && off < hwm {
		next = off
	}
	b.log.Error(ErrOffsetRegression.Error()+": the broker lost records that were already counted",
		"partition", id, "resume_offset", last.NextOffset(), "log_end", hwm, "lost", last.NextOffset()-hwm,
		"counting_from", next)
	return next, next, nil
}

// regressionMarker is the empty partial that moves a partition's resume
// point back to next after its log lost its tail. It repeats the last
// partial's window, which the processor has closed long since.
func regressionMarker(last *wire.Partial, next int64) *wire.Partial {
	return &wire.Partial{Topic: last.Topic, Partition: last.Partition, WindowStartMs: last.WindowStartMs,
		WindowMs: last.WindowMs, FirstOffset: next, LastOffset: next - 1, Counts: wire.Counts{}}
}

// warmStart is the first offset to re-read for the dedup set: the horizon
// before the last partial's window end (warmFrom).
func (b *Bridge) warmStart(conn *kafka.Conn, last *wire.Partial, first, next int64) int64 {
	return b.warmFrom(conn, time.UnixMilli(wire.WindowEnd(last.WindowStartMs, last.WindowMs)), first, next)
}

// warmFrom is the first offset to re-read so that the dedup set of a
// partition resuming at next, whose records before it were received
// before end, remembers the ids of the horizon before end: the first
// record received within it, but no more records than the set holds, so
// that a restart after a flood past the budget re-reads at most that many
// (2.34 million by default, a few seconds) before it counts again. Within
// the budget's rate the horizon holds fewer records anyway.
func (b *Bridge) warmFrom(conn *kafka.Conn, end time.Time, first, next int64) int64 {
	if b.cfg.DedupHorizon <= 0 {
		return next
	}
	most := next - int64(dedupCapacity(b.cfg.DedupMemory, b.cfg.DedupPerUser))
	off, err := conn.ReadOffset(end.Add(-b.cfg.DedupHorizon))
	if err != nil || off < 0 {
		off = most
	}
	return min(max(off, most, first), next)
}

// loop takes fetched records and wall-clock ticks until ctx ends or a
// publish fails.
func (p *partition) loop(ctx context.Context, chunks <-chan chunk) error {
	defer p.b.metrics.forget(p.id)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var tick <-chan time.Time
		if p.caughtUp {
			timer.Reset(time.Until(time.UnixMilli(p.windower.due())) + p.clockSkew())
			tick = timer.C
		}
		var err error
		select {
		case <-ctx.Done():
			return nil
		case c := <-chunks:
			err = p.take(ctx, c)
		case <-tick:
			err = p.tick(ctx, chunks)
		}
		if err != nil {
			return err
		}
	}
}

// clockSkew is how far time.Now is ahead of the configured clock, so timers
// fire when the configured clock reaches a window's close time.
func (p *partition) clockSkew() time.Duration { return time.Since(p.b.cfg.Now()) }

// take counts the records of one fetch.
func (p *partition) take(ctx context.Context, c chunk) error {
	p.nowMs = p.b.cfg.Now().UnixMilli()
	for i := range c.items {
		if err := p.record(ctx, &c.items[i]); err != nil {
			return err
		}
	}
	p.b.metrics.rereading.WithLabelValues(p.label).Set(float64(max(p.windower.next()-c.end, 0)))
	p.windower.skip(c.end)
	p.caughtUp, p.lagHWM = c.end >= c.hwm, c.hwm
	p.gauges()
	select {
	case p.free <- c.items:
	default:
	}
	return nil
}

// gauges updates the partition's gauges and the dedup evictions.
func (p *partition) gauges() {
	m := p.b.metrics
	m.lag.WithLabelValues(p.label).Set(float64(p.lagHWM - p.windower.next()))
	m.dedupEntries.WithLabelValues(p.label).Set(float64(p.dd.len()))
	m.dedupBytes.WithLabelValues(p.label).Set(float64(p.dd.bytes()))
	m.dedupCapacity.WithLabelValues(p.label).Set(float64(p.dd.capacity()))
	m.dedupHorizon.WithLabelValues(p.label).Set(float64(max(p.dd.horizon, 0)) / 1000)
	m.openPartialBytes.WithLabelValues(p.label).Set(float64(p.windower.size))
	for r, n := range p.dd.notRemembered {
		if d := n - p.dropped[r]; d > 0 {
			m.dedupNotRemembered.WithLabelValues(p.label, notRememberedReasons[r]).Add(float64(d))
			p.dropped[r] = n
		}
	}
}

// record counts one record, publishing the window it closes.
func (p *partition) record(ctx context.Context, it *item) error {
	ts := min(it.tsMs, p.nowMs)     // a receive time ahead of the clock forgets no one's ids early
	if it.off < p.windower.next() { // re-read to rebuild the dedup set
		p.dd.repeat(it.event, it.user, ts)
		return nil
	}
	if it.retimed {
		p.b.metrics.retimed.WithLabelValues(p.label).Inc()
	}
	o := it.o
	if o == counted && p.dd.repeat(it.event, it.user, ts) {
		o = duplicate
	}
	if closed := p.windower.addVideo(it.off, it.tsMs, it.videoMs, it.match, it.emoji, o); closed != nil {
		return p.publish(ctx, closed)
	}
	return nil
}

// tick closes the open window if its time came. It first takes the fetches
// already waiting, so records that made it in time are never late.
func (p *partition) tick(ctx context.Context, chunks <-chan chunk) error {
	for n := len(chunks); n > 0; n-- {
		if err := p.take(ctx, <-chunks); err != nil {
			return err
		}
	}
	if closed := p.windower.tick(p.b.cfg.Now().UnixMilli(), p.caughtUp); closed != nil {
		return p.publish(ctx, closed)
	}
	return nil
}

// publish stores a partial, expecting the last sequence this worker knows
// on the subject, then commits its offset to the consumer group.
func (p *partition) publish(ctx context.Context, part *wire.Partial) error {
	data, err := part.Encode()
	if err != nil {
		return fmt.Errorf("encoding partial %s: %w", part.MsgID(), err)
	}
	if len(data) > p.b.cfg.MaxPartialBytes { // the bound the windower keeps failed: a bug
		return p.tooLarge(fmt.Errorf("%w: partial %s is %d bytes, over the bound of %d",
			ErrTooLarge, part.MsgID(), len(data), p.b.cfg.MaxPartialBytes))
	}
	msg := &nats.Msg{Subject: wire.PartialSubject(p.id), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, part.MsgID())
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	ack, err := p.b.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(p.seq))
	if err = p.acked(part, len(data), ack, err); err != nil {
		return err
	}
	p.seq = ack.Sequence
	p.b.health.clear(p.id)
	p.b.metrics.partial(part, time.Now())
	p.commit(p.id, part.NextOffset())
	return nil
}

// tooLarge reports a partial that cannot be published: the partition
// stops (its records stay in Kafka, uncounted, until it can), the metric
// counts it and Ready fails until the partition publishes again. The
// worker logs err as an error when it stops.
func (p *partition) tooLarge(err error) error {
	p.b.metrics.publishErrors.WithLabelValues(p.label, reasonTooLarge).Inc()
	p.b.health.set(p.id, err)
	return err
}

// acked interprets a publish's outcome.
func (p *partition) acked(part *wire.Partial, size int, ack *jetstream.PubAck, err error) error {
	switch {
	case streams.IsConflict(err):
		p.b.metrics.fenced.WithLabelValues(p.label).Inc()
		p.b.metrics.publishErrors.WithLabelValues(p.label, reasonFenced).Inc()
		return fmt.Errorf("%w: partition %d after seq %d, partial %s", ErrFenced, p.id, p.seq, part.MsgID())
	case streams.IsTooLarge(err):
		return p.tooLarge(fmt.Errorf("%w: partial %s (%d bytes): %w", ErrTooLarge, part.MsgID(), size, err))
	case err != nil:
		p.b.metrics.publishErrors.WithLabelValues(p.label, reasonOther).Inc()
		return fmt.Errorf("publishing partial %s: %w", part.MsgID(), err)
	case ack.Duplicate:
		return fmt.Errorf("partial %s was already stored (seq %d): re-reading", part.MsgID(), ack.Sequence)
	}
	return nil
}
