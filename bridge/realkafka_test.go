package bridge

import (
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// kenv is an env on a KafkaTarget: the embedded broker or a real cluster,
// with the target's topic and group.
type kenv struct {
	*env
	k testenv.KafkaTarget
}

func newKEnv(t *testing.T, k testenv.KafkaTarget) *kenv {
	t.Helper()
	if k.Real != nil {
		k.WarmUp(t) // one bad record per partition, at offset 0: check only counts good ones
	}
	e := &env{t: t, nats: testenv.StartNATS(t), want: wire.Counts{}, dial: kafka.DefaultDialer}
	e.nc, e.js = e.nats.Connect()
	if err := streams.Ensure(context.Background(), e.js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	e.w = &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Topic: k.Topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchSize: 10000, BatchTimeout: time.Millisecond, MaxAttempts: 20,
		Transport: &kafka.Transport{}} // not the shared DefaultTransport: its metadata cache predates the topic
	t.Cleanup(func() { e.w.Close() })
	return &kenv{env: e, k: k}
}

// config is a bridge config of the target, with test timing; the session
// timeout is Kafka's smallest by default (group.min.session.timeout.ms).
func (e *kenv) config(reg prometheus.Registerer) Config {
	return Config{KafkaBrokers: e.k.Brokers, Topic: e.k.Topic, Group: e.k.Group, NATSConn: e.nc, Window: testWindow,
		CloseDelay: 50 * time.Millisecond, SessionTimeout: 6 * time.Second, Heartbeat: 200 * time.Millisecond,
		Logger: testenv.Logger(e.t), Registerer: reg}
}

// hwms are the high watermarks of every partition of the target's topic.
func (e *kenv) hwms() []int64 {
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
func (e *kenv) waitCovered() []wire.Partial {
	e.t.Helper()
	hwms := e.hwms()
	var ps []wire.Partial
	testenv.WaitFor(e.t, time.Minute, "partials covering every record", func() bool {
		ps = e.partials()
		return reflect.DeepEqual(nextOffsets(ps, len(hwms)), hwms)
	})
	return ps
}

// The bridge counts exactly on both brokers: one contiguous chain of
// offsets per partition, every record once.
func TestOnEachKafkaCountsExactly(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 3, func(t *testing.T, k testenv.KafkaTarget) {
		e := newKEnv(t, k)
		e.start(e.config(nil))
		for range 5 {
			e.produce(400, false)
			e.waitCovered()
		}
		e.check(e.waitCovered())
	})
}

// A bridge killed mid-stream is replaced by one that resumes from the
// partials in JetStream (not from Kafka's committed offsets), exactly.
func TestOnEachKafkaKilledBridgeResumes(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 3, func(t *testing.T, k testenv.KafkaTarget) {
		e := newKEnv(t, k)
		stop := e.start(e.config(nil))
		e.produce(1000, true)
		e.waitCovered()
		e.produce(1000, true) // in flight when the bridge dies
		stop()
		e.produce(1000, true)
		e.start(e.config(nil))
		e.produce(1000, true)
		e.check(e.waitCovered())
	})
}

// Two bridges share the partitions through the consumer group; when one
// leaves, the group rebalances and the other takes every partition over,
// with the chain of offsets exact.
func TestOnEachKafkaRebalance(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 3, func(t *testing.T, k testenv.KafkaTarget) {
		e := newKEnv(t, k)
		regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
		stopA := e.start(e.config(regA))
		e.start(e.config(regB))
		testenv.WaitFor(t, time.Minute, "both bridges owning partitions", func() bool {
			e.produce(10, false)
			a, b := owners(t, regA), owners(t, regB)
			return len(a) > 0 && len(b) > 0 && len(a)+len(b) >= 3
		})
		e.produce(500, false)
		stopA()
		e.produce(500, false)
		testenv.WaitFor(t, time.Minute, "B owning every partition", func() bool {
			e.produce(5, false)
			return len(owners(t, regB)) == 3
		})
		e.check(e.waitCovered())
	})
}

// Two workers of one partition, as a stale owner after a rebalance: the
// expected-sequence header fences whichever is behind, and the chain of
// offsets stays exact.
func TestOnEachKafkaStaleOwnerIsFenced(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 1, func(t *testing.T, k testenv.KafkaTarget) {
		e := newKEnv(t, k)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var bridges []*Bridge
		for range 2 {
			b, err := New(e.config(prometheus.NewRegistry()))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.openStream(ctx, e.nc); err != nil {
				t.Fatal(err)
			}
			bridges = append(bridges, b)
			done := make(chan struct{})
			go func() { defer close(done); b.work(ctx, 0, func(int32, int64) {}) }()
			t.Cleanup(func() { cancel(); <-done })
		}
		testenv.WaitFor(t, time.Minute, "a publish fenced off", func() bool {
			e.produce(50, false)
			return counter(bridges[0].metrics.fenced, "0")+counter(bridges[1].metrics.fenced, "0") > 0
		})
		e.produce(500, false)
		e.check(e.waitCovered())
	})
}
