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
		bb, err := New(Config{Brokers: []string{addr}, NATS: nc, CloseDelay: 50 * time.Millisecond,
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
