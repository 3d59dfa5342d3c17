package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// env is a Kafka (the embedded broker or a real cluster), a JetStream hub
// and a producer, with what the test produced so far.
type env struct {
	t    testing.TB
	k    testenv.KafkaTarget
	nats *testenv.NATS
	nc   *nats.Conn
	js   jetstream.JetStream
	w    *kafka.Writer
	dial *kafka.Dialer // reads the high watermarks
	want wire.Counts   // what was produced, decodable and not repeated
	seq  atomic.Int64
}

const testWindow = 200 * time.Millisecond

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// newEnv is an env on a fresh embedded broker of partitions.
func newEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	return newEnvOn(t, testenv.StartKafka(t, partitions).Target())
}

// newEnvOn is an env on k: the embedded broker or a real cluster, with the
// target's topic and group.
func newEnvOn(t *testing.T, k testenv.KafkaTarget) *env {
	t.Helper()
	return newEnvWith(t, k, kafka.DefaultDialer, &kafka.Transport{})
}

// newEnvWith is newEnvOn whose producer and offset reader connect with
// dial and transport.
func newEnvWith(t *testing.T, k testenv.KafkaTarget, dial *kafka.Dialer, transport kafka.RoundTripper) *env {
	t.Helper()
	if k.Real != nil {
		k.WarmUp(t) // one bad record per partition, at offset 0: check only counts good ones
	}
	e := &env{t: t, k: k, nats: testenv.StartNATS(t), want: wire.Counts{}, dial: dial}
	e.nc, e.js = e.nats.Connect()
	if err := streams.Ensure(context.Background(), e.js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	e.w = &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Topic: k.Topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchSize: 10000, BatchTimeout: time.Millisecond, MaxAttempts: 20,
		Transport: transport} // not the shared DefaultTransport: its metadata cache may predate the topic
	t.Cleanup(func() { e.w.Close() })
	return e
}

// config is a bridge config for this env, with test timing; on a real
// cluster the session timeout is Kafka's smallest by default
// (group.min.session.timeout.ms).
func (e *env) config(reg prometheus.Registerer) Config {
	cfg := Config{KafkaBrokers: e.k.Brokers, Topic: e.k.Topic, Group: e.k.Group, NATSConn: e.nc, Window: testWindow,
		CloseDelay: 50 * time.Millisecond, SessionTimeout: time.Second, Heartbeat: 100 * time.Millisecond,
		Logger: testenv.Logger(e.t), Registerer: reg}
	if e.k.Real != nil {
		cfg.SessionTimeout, cfg.Heartbeat = 6*time.Second, 200*time.Millisecond
	}
	return cfg
}

// patience is how long the env waits for the bridges: longer on a real
// cluster, whose group rebalances take seconds.
func (e *env) patience() time.Duration {
	if e.k.Real != nil {
		return time.Minute
	}
	return 30 * time.Second
}

// start runs a bridge until the returned stop is called; stop cancels it
// abruptly and waits for Run to return.
func (e *env) start(cfg Config) (stop func()) {
	e.t.Helper()
	_, stop = e.startBridge(cfg)
	return stop
}

// startBridge is start that also returns the bridge.
func (e *env) startBridge(cfg Config) (b *Bridge, stop func()) {
	e.t.Helper()
	b, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		}
	}
	e.t.Cleanup(stop)
	return b, stop
}

var (
	matches = []string{"final-2026", "semi_1", "semi-2"}
	emojis  = []string{"🔥", "👏", "😂", "❤️"}
)

// produce writes n good records received now, with distinct user ids and
// (if ids) distinct event ids.
func (e *env) produce(n int, ids bool) {
	e.t.Helper()
	msgs := make([]kafka.Message, n)
	now := time.Now()
	for i := range msgs {
		k := e.seq.Add(1)
		r := wire.Record{UserID: fmt.Sprintf("u-%d", k), MatchID: matches[k%3], EmojiType: emojis[k%4],
			ReceivedAt: now.UnixMilli()}
		if ids {
			r.EventID = fmt.Sprintf("ev-%d", k)
		}
		msgs[i] = kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil), Time: now}
		e.want.Add(r.MatchID, r.EmojiType, 1)
	}
	e.write(msgs...)
}

func (e *env) write(msgs ...kafka.Message) {
	e.t.Helper()
	if err := e.w.WriteMessages(context.Background(), msgs...); err != nil {
		e.t.Fatalf("producing: %v", err)
	}
}

// partials reads every partial stored so far, in stream order.
func (e *env) partials() []wire.Partial {
	e.t.Helper()
	return e.partialsAfter(0)
}

// partialsAfter reads the partials stored after stream sequence after, in
// stream order.
func (e *env) partialsAfter(after uint64) []wire.Partial {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, wire.PartialsStream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []wire.Partial
	for seq := max(info.State.FirstSeq, after+1); seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		p, err := wire.DecodePartial(m.Data)
		if err != nil {
			e.t.Fatalf("seq %d: %v", seq, err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) != p.MsgID() {
			e.t.Fatalf("seq %d: Nats-Msg-Id %q, want %q", seq, m.Header.Get(jetstream.MsgIDHeader), p.MsgID())
		}
		out = append(out, *p)
	}
	return out
}

// hwms are the high watermarks of every partition.
func (e *env) hwms() []int64 {
	e.t.Helper()
	out := make([]int64, e.k.Partitions)
	for p := range out {
		conn, err := e.dial.DialLeader(context.Background(), "tcp", e.k.Brokers[0], e.k.Topic, p)
		if err != nil {
			e.t.Fatal(err)
		}
		out[p], err = conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// waitCovered waits until the partials cover every offset produced so far.
func (e *env) waitCovered() []wire.Partial {
	e.t.Helper()
	hwms := e.hwms()
	var ps []wire.Partial
	testenv.WaitFor(e.t, e.patience(), "partials covering every record", func() bool {
		ps = e.partials()
		return reflect.DeepEqual(nextOffsets(ps, len(hwms)), hwms)
	})
	return ps
}

func nextOffsets(ps []wire.Partial, n int) []int64 {
	next := make([]int64, n)
	for _, p := range ps {
		next[p.Partition] = max(next[p.Partition], p.NextOffset())
	}
	return next
}

// check verifies that, per partition, the partials form one contiguous chain
// of offsets from 0 with increasing windows (a split partial, More, is
// followed by one of the same window or later), and that they count exactly
// what was produced. It returns the summed partials' bad and duplicate counts.
func (e *env) check(ps []wire.Partial) (bad, dups int64) {
	e.t.Helper()
	next := map[int32]int64{}
	lastWin := map[int32]int64{}
	more := map[int32]bool{} // the partition's last partial was split
	got := wire.Counts{}
	for _, p := range ps {
		if p.FirstOffset != next[p.Partition] {
			e.t.Fatalf("partition %d: partial %s starts at %d, want %d", p.Partition, p.MsgID(), p.FirstOffset, next[p.Partition])
		}
		w, ok := lastWin[p.Partition]
		switch {
		case ok && more[p.Partition] && p.WindowStartMs < w:
			e.t.Errorf("partition %d: window %d after a split partial of window %d", p.Partition, p.WindowStartMs, w)
		case ok && !more[p.Partition] && p.WindowStartMs <= w:
			e.t.Errorf("partition %d: window %d after window %d", p.Partition, p.WindowStartMs, w)
		}
		next[p.Partition], lastWin[p.Partition], more[p.Partition] = p.NextOffset(), p.WindowStartMs, p.More
		got.Merge(p.Counts)
		bad, dups = bad+p.Bad, dups+p.Duplicates
	}
	if !reflect.DeepEqual(got, e.want) {
		e.t.Errorf("counts differ:\n got %v\nwant %v", got, e.want)
	}
	return bad, dups
}

// owners returns the partitions a bridge's registry says it published for.
func owners(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "emostream_bridge_partials_published_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out = append(out, m.GetLabel()[0].GetValue())
		}
	}
	sort.Strings(out)
	return out
}

// captureLogs makes cfg's bridge log its warnings and errors to the
// returned buffer (instead of the test's log).
func captureLogs(cfg *Config) *testenv.LogBuffer {
	logs := &testenv.LogBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return logs
}

// counter is the value of a partition-labelled counter.
func counter(c *prometheus.CounterVec, partition string) float64 {
	var m dto.Metric
	if err := c.WithLabelValues(partition).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// produceTo writes n records to partition p through its leader.
func (e *env) produceTo(p, n int) {
	e.t.Helper()
	var conn *kafka.Conn
	testenv.WaitFor(e.t, e.patience(), fmt.Sprintf("a leader for partition %d", p), func() bool {
		var err error
		conn, err = e.dial.DialLeader(context.Background(), "tcp", e.k.Brokers[0], e.k.Topic, p)
		return err == nil
	})
	defer conn.Close()
	conn.SetRequiredAcks(int(kafka.RequireAll))
	msgs := make([]kafka.Message, n)
	now := time.Now()
	for i := range msgs {
		k := e.seq.Add(1)
		r := wire.Record{UserID: fmt.Sprintf("u-%d", k), MatchID: matches[k%3], EmojiType: emojis[k%4], ReceivedAt: now.UnixMilli()}
		msgs[i] = kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil), Time: now}
		e.want.Add(r.MatchID, r.EmojiType, 1)
	}
	if _, err := conn.WriteMessages(msgs...); err != nil {
		e.t.Fatalf("producing to partition %d: %v", p, err)
	}
}
