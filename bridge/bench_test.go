package bridge

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

const (
	benchRecords    = 2_000_000
	benchPartitions = 4
)

// BenchmarkConsumeAndCount measures how fast one bridge turns records that
// are already in the embedded broker into partials: from Run to the partials
// covering every record. events/cpu-s divides by the process's CPU time,
// which includes the in-process broker serving the fetches.
//
//	go test ./bridge -run '^$' -bench ConsumeAndCount -benchtime 1x -count 3
func BenchmarkConsumeAndCount(b *testing.B) {
	addr := benchBroker(b)
	total := sumHWM(b, addr)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := testenv.StartNATS(b)
		nc, js := n.Connect()
		if err := streams.Ensure(context.Background(), js, streams.Config{}); err != nil {
			b.Fatal(err)
		}
		covered := watchCoverage(b, nc, total)
		bb, err := New(Config{KafkaBrokers: []string{addr}, NATSConn: nc, CloseDelay: 50 * time.Millisecond,
			Logger: testenv.Logger(b)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cpu0, t0 := cpuTime(), time.Now()
		done := make(chan error, 1)
		go func() { done <- bb.Run(ctx) }()
		select {
		case <-covered:
		case err := <-done:
			b.Fatalf("Run: %v", err)
		case <-time.After(5 * time.Minute):
			b.Fatal("partials never covered the records")
		}
		wall, cpu := time.Since(t0), cpuTime()-cpu0
		cancel()
		<-done
		b.ReportMetric(float64(total)/wall.Seconds(), "events/s")
		b.ReportMetric(float64(total)/cpu.Seconds(), "events/cpu-s")
	}
}

// benchBroker starts an in-memory broker holding benchRecords records of
// several matches and emojis, received over two past 2 s windows.
func benchBroker(b *testing.B) string {
	b.Helper()
	br, err := broker.Start(broker.Config{Partitions: benchPartitions})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	w := &kafka.Writer{Addr: kafka.TCP(br.Addr()), Topic: wire.DefaultTopic, Balancer: &kafka.Hash{},
		BatchSize: 10_000, BatchBytes: 1 << 20, BatchTimeout: 10 * time.Millisecond, Async: true,
		RequiredAcks: kafka.RequireAll}
	var mu sync.Mutex
	var werr error
	w.Completion = func(_ []kafka.Message, err error) {
		mu.Lock()
		werr = cmpErr(werr, err)
		mu.Unlock()
	}
	base := wire.WindowStart(time.Now().Add(-time.Minute).UnixMilli(), 2000)
	msgs := make([]kafka.Message, 0, 10_000)
	for i := 0; i < benchRecords; i++ {
		ts := base + int64(i)*4_000/benchRecords
		r := wire.Record{EventID: fmt.Sprint("ev-", i), UserID: fmt.Sprint("user-", i%50_000),
			MatchID: matches[i%3], EmojiType: emojis[i%4], ClientTS: ts, ReceivedAt: ts}
		msgs = append(msgs, kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil), Time: time.UnixMilli(ts)})
		if len(msgs) == cap(msgs) {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = make([]kafka.Message, 0, 10_000)
		}
	}
	if err := w.Close(); err != nil || werr != nil {
		b.Fatalf("prefilling: %v %v", err, werr)
	}
	return br.Addr()
}

// sumHWM is the number of offsets in the topic's partitions.
func sumHWM(b *testing.B, addr string) int64 {
	var total int64
	for p := 0; p < benchPartitions; p++ {
		conn, err := kafka.DialLeader(context.Background(), "tcp", addr, wire.DefaultTopic, p)
		if err != nil {
			b.Fatal(err)
		}
		hwm, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			b.Fatal(err)
		}
		total += hwm
	}
	if total != benchRecords {
		b.Logf("%d records in the broker for %d produced", total, benchRecords)
	}
	return total
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// watchCoverage closes the returned channel once partials published on
// core NATS cover total records.
func watchCoverage(b *testing.B, nc *nats.Conn, total int64) <-chan struct{} {
	covered := make(chan struct{})
	var mu sync.Mutex
	next := map[int32]int64{}
	sub, err := nc.Subscribe(wire.PartialsSubjects, func(m *nats.Msg) {
		p, err := wire.DecodePartial(m.Data)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		next[p.Partition] = p.NextOffset()
		var sum int64
		for _, n := range next {
			sum += n
		}
		if sum >= total && total > 0 {
			total = 0 // close once
			close(covered)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sub.Unsubscribe() })
	return covered
}

// cpuTime is the CPU time (user + system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCloseDelay measures which close delay is enough: a producer
// writes records received "now" every 10 ms (acks=all into the fsyncing
// embedded broker, as ingest does at a window boundary) for four 1 s
// windows, and the benchmark reports the share of records that a bridge with
// that close delay counted late.
//
//	go test ./bridge -run '^$' -bench CloseDelay -benchtime 1x -count 3
func BenchmarkCloseDelay(b *testing.B) {
	for _, d := range []time.Duration{10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond} {
		b.Run(d.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				late, total := lateShare(b, d)
				b.ReportMetric(100*float64(late)/float64(total), "%late")
			}
		})
	}
}

func lateShare(b *testing.B, delay time.Duration) (late, total int64) {
	k, n := testenv.StartKafka(b, benchPartitions), testenv.StartNATS(b)
	nc, js := n.Connect()
	if err := streams.Ensure(context.Background(), js, streams.Config{}); err != nil {
		b.Fatal(err)
	}
	bb, err := New(Config{KafkaBrokers: []string{k.Addr()}, NATSConn: nc, Window: time.Second, CloseDelay: delay,
		Logger: testenv.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bb.Run(ctx)
	w := &kafka.Writer{Addr: kafka.TCP(k.Addr()), Topic: wire.DefaultTopic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var sent int64
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); sent += 40 {
		now := time.Now()
		msgs := make([]kafka.Message, 40)
		for j := range msgs {
			r := wire.Record{UserID: fmt.Sprint("u-", j), MatchID: "m", EmojiType: "🔥", ReceivedAt: now.UnixMilli()}
			msgs[j] = kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil), Time: now}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // the producer's pace, not a synchronisation
	}
	e := &env{t: b, js: js}
	testenv.WaitFor(b, time.Minute, "every record counted", func() bool {
		late, total = 0, 0
		for _, p := range e.partials() {
			late, total = late+p.Late, total+p.Counts.Total()
		}
		return total == sent
	})
	return late, total
}
