package bridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The attack of the hardening issue: in one window on one partition, more
// distinct 64-byte match ids than one message can hold (unsplit, their
// partial is over the hub's 1 MiB max_payload). The bridge splits the window
// into partials under its bound, every record is counted once, and the
// partition goes on counting.
func TestWorstCaseWindowIsSplit(t *testing.T) {
	const records = 30_000
	e := newEnv(t, 1)
	// The bridge's clock stands still at now until the window is checked:
	// only the record of the next window closes it, after every record.
	now := time.Now()
	var frozen atomic.Bool
	frozen.Store(true)
	cfg := e.config(prometheus.NewRegistry())
	cfg.Now = func() time.Time {
		if frozen.Load() {
			return now
		}
		return time.Now()
	}
	b, _ := e.startBridge(cfg)
	msgs := make([]kafka.Message, records+1)
	for i := range msgs {
		r := wire.Record{EventID: fmt.Sprint("ev-", i), UserID: fmt.Sprint("u-", i), MatchID: match64(i),
			EmojiType: wire.DefaultEmojis[i%len(wire.DefaultEmojis)], ReceivedAt: now.UnixMilli()}
		if i == records {
			r.ReceivedAt += testWindow.Milliseconds() // closes the window
		}
		msgs[i] = kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil), Time: now}
		e.want.Add(r.MatchID, r.EmojiType, 1)
	}
	e.write(msgs...)
	var ps []wire.Partial
	testenv.WaitFor(t, 60*time.Second, "partials covering the window's records", func() bool {
		ps = e.partials()
		return nextOffsets(ps, 1)[0] >= records
	})

	window := wire.WindowStart(now.UnixMilli(), testWindow.Milliseconds())
	var split []wire.Partial
	whole := wire.Counts{}
	for _, p := range ps {
		data, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > DefaultMaxPartialBytes {
			t.Errorf("partial %s is %d bytes, over the bound %d", p.MsgID(), len(data), DefaultMaxPartialBytes)
		}
		if p.WindowStartMs == window {
			split = append(split, p)
			whole.Merge(p.Counts)
		}
	}
	unsplit, _ := (&wire.Partial{Topic: wire.DefaultTopic, Counts: whole}).Encode()
	if len(unsplit) <= 1<<20 {
		t.Fatalf("the window unsplit is %d bytes: not over the 1 MiB max_payload, not a worst case", len(unsplit))
	}
	if whole.Total() != records || len(split) < 2 || split[len(split)-1].More {
		t.Fatalf("window %d: %d partials counting %d records, last More=%v; want %d records, split, completed",
			window, len(split), whole.Total(), split[len(split)-1].More, records)
	}
	for _, p := range split[:len(split)-1] {
		if !p.More {
			t.Errorf("partial %s is not the window's last but lacks More", p.MsgID())
		}
	}
	if got := counter(b.metrics.splits, "0"); got != float64(len(split)-1) {
		t.Errorf("partial_splits_total = %v, want %d", got, len(split)-1)
	}
	t.Logf("%d records in one window: %d partials (unsplit %d bytes)", records, len(split), len(unsplit))

	frozen.Store(false)
	e.produce(500, true) // later records are counted too
	e.check(e.waitCovered())
	if err := b.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

// An event_id identifies a retry of one user's event in one match: another
// user's (or another match's) event with the same id does not hide it,
// while the user's own retry counts once.
func TestEventIDScopedToUserAndMatch(t *testing.T) {
	e := newEnv(t, 1) // one partition: one dedup set sees every event
	e.start(e.config(nil))
	rec := func(user, match, id string) kafka.Message {
		r := wire.Record{EventID: id, UserID: user, MatchID: match, EmojiType: "🔥", ReceivedAt: time.Now().UnixMilli()}
		return kafka.Message{Key: []byte(user), Value: r.AppendJSON(nil), Time: time.Now()}
	}
	var thief, owner, retries []kafka.Message
	for i := range 50 {
		id := fmt.Sprint("a", i)
		thief = append(thief, rec("u-b", "final-2026", id), rec("u-b", "semi_1", id))
		owner = append(owner, rec("u-a", "final-2026", id))
		if i < 10 {
			retries = append(retries, rec("u-a", "final-2026", id))
		}
	}
	e.want.Add("final-2026", "🔥", 100)
	e.want.Add("semi_1", "🔥", 50)
	e.write(thief...) // B first: before, A's events then vanished as duplicates
	e.write(owner...)
	e.write(retries...)
	_, dups := e.check(e.waitCovered())
	if dups != 10 {
		t.Errorf("duplicates = %d, want A's 10 retries", dups)
	}
}

// A partial over the bound or the server's max_payload is never retried
// silently: the publish fails with ErrTooLarge, the metric counts it,
// Ready reports it until the partition publishes again, and nothing is
// stored.
func TestTooLargePartialFailsLoudly(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	b, err := New(e.config(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.openStream(ctx, e.nc); err != nil {
		t.Fatal(err)
	}
	p := b.newPartition(0, resumed{subject: wire.PartialSubject(0)}, 0, func(int32, int64) {})
	huge := func(keys int) *wire.Partial {
		pt := &wire.Partial{Topic: wire.DefaultTopic, WindowStartMs: 0, WindowMs: testWindow.Milliseconds(),
			FirstOffset: 0, LastOffset: int64(keys) - 1, Counts: wire.Counts{}}
		for i := range keys {
			pt.Counts.Add(match64(i), "🔥", 1)
		}
		return pt
	}
	tests := []struct {
		name     string
		maxBytes int // the bridge's bound, set past validation
		partial  *wire.Partial
	}{
		{"over the bridge's bound", DefaultMaxPartialBytes, huge(5_000)},
		{"over the server's max_payload", 64 << 20, huge(20_000)},
	}
	for i, tt := range tests {
		b.cfg.MaxPartialBytes = tt.maxBytes
		err := p.publish(ctx, tt.partial)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: publish: %v, want ErrTooLarge", tt.name, err)
		}
		if got := b.Ready(); !errors.Is(got, ErrTooLarge) {
			t.Errorf("%s: Ready = %v, want ErrTooLarge", tt.name, got)
		}
		if got := counterOf(t, b.metrics.publishErrors, "0", reasonTooLarge); got != float64(i+1) {
			t.Errorf("%s: publish_errors_total{too_large} = %v, want %d", tt.name, got, i+1)
		}
	}
	if n := len(e.partials()); n != 0 {
		t.Errorf("%d partials stored, want none", n)
	}
	b.cfg.MaxPartialBytes = DefaultMaxPartialBytes
	if err := p.publish(ctx, huge(10)); err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(); err != nil {
		t.Errorf("Ready after a publish: %v", err)
	}
}

// A bound that does not fit the server's max_payload is refused at start.
func TestMaxPartialBytesCheckedAgainstServer(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(nil)
	cfg.MaxPartialBytes = 1 << 20 // plus headers, over the default 1 MiB
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(context.Background()); !errors.Is(err, ErrConfig) {
		t.Errorf("Run: %v, want ErrConfig", err)
	}
	cfg.MaxPartialBytes = 100
	if _, err := New(cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("New with a bound below one key: %v, want ErrConfig", err)
	}
}

func counterOf(t *testing.T, c *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	m, err := c.GetMetricWithLabelValues(labels...)
	if err != nil {
		t.Fatal(err)
	}
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

func gaugeOf(t *testing.T, g *prometheus.GaugeVec, labels ...string) float64 {
	t.Helper()
	m, err := g.GetMetricWithLabelValues(labels...)
	if err != nil {
		t.Fatal(err)
	}
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetGauge().GetValue()
}

// While a partition re-reads records for its dedup set, before the offset
// it counts from, dedup_reread_records says how many are left (the lag
// cannot: it is measured from the counting offset); the re-read records
// are remembered, not counted.
func TestRereadRecordsGauge(t *testing.T) {
	e := newEnv(t, 1)
	b, err := New(e.config(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := b.newPartition(0, resumed{subject: wire.PartialSubject(0)}, 100, func(int32, int64) {})
	now := time.Now().UnixMilli()
	empty := p.windower.size
	fetch := func(from, to int64) chunk {
		c := chunk{end: to, hwm: 100}
		for off := from; off < to; off++ {
			c.items = append(c.items, item{off: off, tsMs: now, match: "m", emoji: "🔥", event: uint64(off) + 1, user: 1, o: counted})
		}
		return c
	}
	ctx := context.Background()
	for _, step := range []struct {
		from, to int64
		left     float64
	}{{40, 60, 40}, {60, 90, 10}, {90, 100, 0}} {
		if err := p.take(ctx, fetch(step.from, step.to)); err != nil {
			t.Fatal(err)
		}
		if got := gaugeOf(t, b.metrics.rereading, "0"); got != step.left {
			t.Errorf("after re-reading to %d: dedup_reread_records = %v, want %v", step.to, got, step.left)
		}
	}
	if p.windower.size != empty || p.dd.len() != 60 {
		t.Errorf("after the re-read: open partial %d bytes, %d ids remembered; want nothing counted and 60 remembered", p.windower.size, p.dd.len())
	}
}

// A record whose received_at is absurd (year 9999 or MaxInt64 from another
// producer, an hour ahead from an ingest host whose clock jumped, negative)
// counts as received when the bridge reads it, in a window of now: the
// partition's tick closes its windows in time, so the records after it are
// neither held nor late in a window of the far future, and no partial
// names a window a swarm cannot encode. retimed_records_total counts it.
func TestAbsurdReceivedAtCountsAsReceivedNow(t *testing.T) {
	e := newEnv(t, 1)
	b, _ := e.startBridge(e.config(prometheus.NewRegistry()))
	e.produce(10, false)
	e.waitCovered()
	year9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i, at := range []int64{year9999, math.MaxInt64, time.Now().Add(time.Hour).UnixMilli(), -1, math.MinInt64} {
		r := wire.Record{UserID: "far", MatchID: "final-2026", EmojiType: "🔥", ReceivedAt: at}
		e.write(kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil)})
		e.want.Add(r.MatchID, r.EmojiType, 1)
		e.produce(10, false)
		ps := e.waitCovered() // before, a window of year 9999 stayed open, holding every later record
		reach := wire.WindowStart(time.Now().Add(testWindow).UnixMilli(), testWindow.Milliseconds())
		for _, p := range ps {
			if p.WindowStartMs > reach {
				t.Fatalf("received_at %d: partial %s of a window after now", at, p.MsgID())
			}
		}
		if got := counter(b.metrics.retimed, "0"); got != float64(i+1) {
			t.Errorf("received_at %d: retimed_records_total = %v, want %d", at, got, i+1)
		}
	}
	e.check(e.partials())
}

// A partition whose last stored partial is of a window no record can open
// now (a bridge's before receive times were bounded, for an absurd
// received_at: a window of year 9999, or the window of MaxInt64, which no
// swarm can encode) resumes after its offsets at the window of now: its
// windows close again and every record after it is counted there.
func TestResumeAfterPartialOfAbsurdWindow(t *testing.T) {
	win := testWindow.Milliseconds()
	for _, tt := range []struct {
		name  string
		start int64
		more  bool
	}{
		{"year 9999", wire.WindowStart(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli(), win), false},
		{"split in year 9999", wire.WindowStart(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli(), win), true},
		{"the window of MaxInt64", wire.WindowStart(math.MaxInt64, win), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			e.produce(5, false)
			stored := &wire.Partial{Topic: e.k.Topic, WindowStartMs: tt.start, WindowMs: win, FirstOffset: 0,
				LastOffset: e.hwms()[0] - 1, Counts: e.want, More: tt.more}
			data, err := stored.Encode()
			if err != nil {
				t.Fatal(err)
			}
			ack, err := e.js.Publish(context.Background(), wire.PartialSubject(0), data, jetstream.WithMsgID(stored.MsgID()))
			if err != nil {
				t.Fatal(err)
			}
			e.want = wire.Counts{}
			e.start(e.config(prometheus.NewRegistry()))
			e.produce(10, false)
			hwm := e.hwms()[0]
			var ps []wire.Partial
			testenv.WaitFor(t, e.patience(), "partials after the stored one covering every record", func() bool {
				ps = e.partialsAfter(ack.Sequence)
				return len(ps) > 0 && ps[len(ps)-1].NextOffset() == hwm && !ps[len(ps)-1].More
			})
			got := wire.Counts{}
			reach := wire.WindowStart(time.Now().Add(testWindow).UnixMilli(), win)
			for _, p := range ps {
				got.Merge(p.Counts)
				if p.WindowStartMs > reach {
					t.Errorf("partial %s of a window after now", p.MsgID())
				}
			}
			if !reflect.DeepEqual(got, e.want) {
				t.Errorf("counted %v after the stored partial, want %v", got, e.want)
			}
		})
	}
}
