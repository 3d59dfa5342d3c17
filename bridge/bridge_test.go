package bridge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The bridge counts exactly on both brokers: one contiguous chain of
// offsets per partition, every record once. Caught up, every partition
// keeps publishing one empty partial per window.
func TestOnEachKafkaCountsExactly(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 3, func(t *testing.T, k testenv.KafkaTarget) {
		e := newEnvOn(t, k)
		e.start(e.config(nil))
		for range 5 {
			e.produce(400, false)
			e.waitCovered()
		}
		e.check(e.waitCovered())
		after := time.Now().UnixMilli()
		testenv.WaitFor(t, 10*time.Second, "an empty partial of a later window on every partition", func() bool {
			seen := map[int32]bool{}
			for _, p := range e.partials() {
				if p.WindowStartMs > after && p.Counts.Total() == 0 && p.LastOffset == p.FirstOffset-1 {
					seen[p.Partition] = true
				}
			}
			return len(seen) == 3
		})
		e.check(e.partials())
	})
}

// A bridge killed mid-stream is replaced by one that resumes from the
// partials in JetStream (not from Kafka's committed offsets), exactly.
func TestOnEachKafkaKilledBridgeResumes(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 3, func(t *testing.T, k testenv.KafkaTarget) {
		e := newEnvOn(t, k)
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
		e := newEnvOn(t, k)
		regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
		stopA := e.start(e.config(regA))
		e.start(e.config(regB))
		testenv.WaitFor(t, e.patience(), "both bridges owning partitions", func() bool {
			e.produce(10, false)
			a, b := owners(t, regA), owners(t, regB)
			return len(a) > 0 && len(b) > 0 && len(a)+len(b) >= 3
		})
		e.produce(500, false)
		stopA()
		e.produce(500, false)
		testenv.WaitFor(t, e.patience(), "B owning every partition", func() bool {
			e.produce(5, false)
			return len(owners(t, regB)) == 3
		})
		e.check(e.waitCovered())
	})
}

// Two workers of one partition, as after a rebalance a stale owner that has
// not noticed yet: the expected-sequence header fences whichever is behind,
// it re-reads the stream, and the chain of offsets stays exact.
func TestOnEachKafkaStaleOwnerIsFenced(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 1, func(t *testing.T, k testenv.KafkaTarget) {
		e := newEnvOn(t, k)
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
		testenv.WaitFor(t, e.patience(), "a publish fenced off", func() bool {
			e.produce(50, false)
			return counter(bridges[0].metrics.fenced, "0")+counter(bridges[1].metrics.fenced, "0") > 0
		})
		e.produce(500, false)
		e.check(e.waitCovered())
	})
}

func TestBadRecordsCountedNotFatal(t *testing.T) {
	e := newEnv(t, 2)
	e.start(e.config(nil))
	var garbage []kafka.Message
	for i, v := range []string{"", "{", "null", `{"match_id":"bad match","emoji_type":"🔥"}`, `{"match_id":"m"}`, "\xff\xfe"} {
		garbage = append(garbage, kafka.Message{Key: []byte(fmt.Sprint("k", i)), Value: []byte(v)})
	}
	e.produce(100, false)
	e.write(garbage...)
	e.produce(100, false)
	bad, _ := e.check(e.waitCovered())
	if bad != int64(len(garbage)) {
		t.Errorf("bad = %d, want %d", bad, len(garbage))
	}
}

// Retries of events (the same records again, as a producer's retry
// writes them) before and after a bridge restart count once, in counts
// and in the program-time counts of their video_ts.
func TestDuplicateEventIDsCountOnceAcrossRestart(t *testing.T) {
	e := newEnv(t, 2)
	stop := e.start(e.config(nil))
	t0 := time.Now()
	video := t0.Add(-20 * time.Second).UnixMilli()
	rec := func(id string) kafka.Message {
		r := wire.Record{EventID: id, UserID: "u-" + id, MatchID: "final-2026", EmojiType: "🔥",
			ReceivedAt: t0.UnixMilli(), VideoTS: video}
		return kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil), Time: t0}
	}
	var first []kafka.Message
	for i := 0; i < 100; i++ {
		first = append(first, rec(fmt.Sprint("e", i)))
	}
	e.want.Add("final-2026", "🔥", 100)
	e.write(first...)
	e.write(first[:30]...) // retries, same bridge
	e.waitCovered()
	stop()
	e.start(e.config(nil))
	e.write(first[30:50]...) // retries after a takeover
	ps := e.waitCovered()
	_, dups := e.check(ps)
	if dups != 50 {
		t.Errorf("duplicates = %d, want 50", dups)
	}
	var moved int64
	for _, p := range ps {
		for w, c := range p.VideoCounts {
			if w == wire.WindowStart(video, p.WindowMs) {
				moved += c["final-2026"]["🔥"]
			}
		}
	}
	if moved != 100 {
		t.Errorf("%d events in the program-time window of their video_ts, want 100", moved)
	}
}

// A restarted bridge re-reads the whole dedup horizon before it resumes:
// an event followed by 210,000 other users' ids (more than the old cap of
// records re-read) is still remembered, and its retry after the restart
// counts once.
func TestDedupHorizonAcrossRestart(t *testing.T) {
	e := newEnv(t, 1)
	stop := e.start(e.config(nil))
	rec := func(user, id string) kafka.Message {
		r := wire.Record{EventID: id, UserID: user, MatchID: "final-2026", EmojiType: "🔥", ReceivedAt: time.Now().UnixMilli()}
		return kafka.Message{Key: []byte(user), Value: r.AppendJSON(nil), Time: time.Now()}
	}
	victim := rec("victim", "tap-1")
	e.write(victim)
	for i := 0; i < 210_000; i += 10_000 {
		flood := make([]kafka.Message, 10_000)
		for j := range flood {
			flood[j] = rec(fmt.Sprint("u-", (i+j)/100), fmt.Sprint("f-", i+j))
		}
		e.write(flood...)
	}
	e.want.Add("final-2026", "🔥", 210_001)
	e.waitCovered()
	stop()
	e.start(e.config(nil))
	e.write(victim) // the retry, after the restart
	if _, dups := e.check(e.waitCovered()); dups != 1 {
		t.Errorf("duplicates = %d, want 1: the retry after a restart counted again", dups)
	}
}

// Partitions added to the topic are worked by the running bridge, exactly
// from their first record, with no restart: the group's partition watch
// ends the generation and the rebalance assigns them.
func TestOnEachKafkaGrownTopicWorkedWithoutRestart(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 2, func(t *testing.T, k testenv.KafkaTarget) {
		e := newEnvOn(t, k)
		cfg := e.config(nil)
		cfg.PartitionWatch = 200 * time.Millisecond
		e.start(cfg)
		e.produce(200, false)
		e.waitCovered()
		if _, err := (kafkaconn.Conn{}).AddPartitions(context.Background(), k.Brokers, k.Topic, 4); err != nil {
			t.Fatal(err)
		}
		e.k.Partitions = 4
		for p := range 4 { // straight to each partition, old and new
			e.produceTo(p, 50)
		}
		e.check(e.waitCovered())
	})
}
