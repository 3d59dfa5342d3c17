package processor

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// BenchmarkMergeAndPublish measures one window: merging 8 partitions'
// partials of 20 matches × 4 emojis, then publishing the 20 swarms to a
// real JetStream (fsync on every write) and waiting for their PubAcks
// (the timeline on, as by default).
func BenchmarkMergeAndPublish(b *testing.B) {
	benchWindows(b, 8, 20, []string{"🔥", "👏", "😂", "⚽"}, Config{})
	b.ReportMetric(20, "swarms/op")
}

// BenchmarkDeliveryLag measures window end → swarm received on
// emostream.live, with a running processor and 8 partitions whose partials
// are published closeDelay after each window's end, as bridges would.
// Run with -benchtime=40x: each op is one 500ms window.
func BenchmarkDeliveryLag(b *testing.B) {
	benchDeliveryLag(b, testenv.StartNATS(b).URL, streams.Config{})
}

// benchDeliveryLag is BenchmarkDeliveryLag on the servers of url, the
// streams as sc.
func benchDeliveryLag(b *testing.B, url string, sc streams.Config) {
	const parts, closeDelay, win = 8, 50 * time.Millisecond, 500 * time.Millisecond
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := streams.Ensure(ctx, js, sc); err != nil {
		b.Fatal(err)
	}
	lags := make(chan time.Duration, b.N+16)
	sub, err := nc.Subscribe(wire.LiveSubject("m1"), func(m *nats.Msg) {
		if sw, err := wire.DecodeSwarm(m.Data); err == nil {
			lags <- time.Since(sw.WindowEnd)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	p, err := New(Config{NATSURL: url, Partitions: parts, Window: win, Streams: sc, Logger: testenv.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	b.ResetTimer()
	got := bridgeWindows(b, js, parts, win, closeDelay, lags)
	b.StopTimer()
	cancel()
	<-done
	slices.Sort(got)
	b.ReportMetric(float64(got[len(got)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(got[len(got)*99/100].Microseconds())/1000, "p99-ms")
}

// bridgeWindows publishes b.N windows of partials, each closeDelay after the
// window's end, and collects each window's lag.
func bridgeWindows(b *testing.B, js jetstream.JetStream, parts int, win, closeDelay time.Duration, lags <-chan time.Duration) []time.Duration {
	var got []time.Duration
	next := map[int32]int64{}
	ws := wire.WindowOf(time.Now(), win).Add(win)
	for i := range b.N {
		start := ws.Add(time.Duration(i) * win)
		time.Sleep(time.Until(start.Add(win + closeDelay))) // pacing the load, not synchronising
		for q := range int32(parts) {
			c := wire.Counts{}
			c.Add("m1", "🔥", 100)
			pt := &wire.Partial{Partition: q, WindowStartMs: start.UnixMilli(), WindowMs: win.Milliseconds(),
				FirstOffset: next[q], LastOffset: next[q] + 99, Counts: c}
			next[q] += 100
			if _, err := js.PublishAsync(wire.PartialSubject(q), mustJSON(pt), jetstream.WithMsgID(pt.MsgID())); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case l := <-lags:
			got = append(got, l)
		case <-time.After(10 * time.Second):
			b.Fatalf("window %d: no swarm", i)
		}
	}
	return got
}

// BenchmarkTally measures the processor's own work per window that the
// late attribution and the swarm bound add: tallying 8 partitions'
// partials of 100 matches × 20 emojis for every match, without the bound
// (as before them), with it, and with every partial carrying late counts
// of two earlier windows (the most a partial names).
func BenchmarkTally(b *testing.B) {
	for _, tt := range []struct {
		name  string
		bound bool
		late  bool
	}{{"unbounded", false, false}, {"bounded", true, false}, {"bounded-late", true, true}} {
		b.Run(tt.name, func(b *testing.B) {
			const parts, matches = 8, 100
			m := newMerger(testWindow, time.Second, parts)
			names := make([]string, matches)
			for i := range names {
				names[i] = fmt.Sprintf("match-%d", i)
			}
			for p := range int32(parts) {
				pt := &wire.Partial{Partition: p, WindowStartMs: w(5), WindowMs: 2000, FirstOffset: 0, LastOffset: 99,
					Counts: wire.Counts{}, LateCounts: map[int64]wire.Counts{}}
				for _, match := range names {
					for _, e := range benchEmojis {
						pt.Counts.Add(match, e, 100)
						if tt.late {
							for o := range 2 {
								if pt.LateCounts[w(o)] == nil {
									pt.LateCounts[w(o)] = wire.Counts{}
								}
								pt.LateCounts[w(o)].Add(match, e, 10)
							}
						}
					}
				}
				m.add(pt, uint64(p+1), end(5, 0), nil)
			}
			win, _ := m.next(end(5, 0), true)
			var bound *swarmBound
			if tt.bound {
				bound = newSwarmBound(DefaultMaxSwarmBytes, MomentRule{}.withDefaults())
			}
			st := newMatchState()
			b.ResetTimer()
			for range b.N {
				for _, match := range names {
					if t := tallyOf(win, match, st, bound); len(t.held) > 0 {
						b.Fatal("held")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*matches), "ns/match")
		})
	}
}
