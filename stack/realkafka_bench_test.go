package stack_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/loadgen"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
)

// BenchmarkOnEachKafkaPipeline loads the whole in-process pipeline over
// HTTP for 10 s, once on the embedded broker and once on the real 3-node
// cluster (RF 3, min.insync.replicas=2, acks=all), with one-event POSTs
// and with 100-event arrays. It reports ingest-events/s (events answered
// 202 per second of the load), e2e-events/s (the same events over the time
// from the load's start until a WebSocket viewer's swarms summed to all of
// them) and http-p99-ms (the 202's latency, 99th percentile):
//
//	go test -run '^$' -bench OnEachKafkaPipeline -benchtime 1x -count 3 ./stack/
func BenchmarkOnEachKafkaPipeline(b *testing.B) {
	for _, load := range []struct {
		batch, conns int
	}{{1, 256}, {100, 64}} {
		for _, target := range []string{"embedded", "real-3-nodes"} {
			b.Run(fmt.Sprintf("%s/batch%d", target, load.batch), func(b *testing.B) {
				for range b.N {
					benchPipeline(b, target, load.batch, load.conns)
				}
			})
		}
	}
}

func benchPipeline(b *testing.B, target string, batch, conns int) {
	b.StopTimer()
	k := testenv.KafkaTarget{Name: "embedded", Partitions: 4}
	if target != "embedded" {
		k = testenv.OnRealKafka(b, realKafka, 4)
	}
	cfg := stack.Config{Window: 2 * time.Second, Registry: registry.Config{AutoMatches: 1000},
		WebSocketListens: []string{"127.0.0.1:0"}} // one leaf
	cfg.Ingest.UserRate, cfg.Ingest.IPRate = -1, -1
	st := startStackOn(b, k, cfg)
	v := watch(b, st.WebSocketURLs()[0])
	g, err := loadgen.New(loadgen.Config{Target: st.HTTPURL(), Batch: batch, Connections: conns,
		Duration: 10 * time.Second, Matches: 4, Users: 10000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	start := time.Now()
	sum, err := g.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	testenv.WaitFor(b, 2*time.Minute, "the viewer to count every accepted event", func() bool {
		return v.total() >= sum.Accepted
	})
	e2e := time.Since(start)
	b.StopTimer()
	if got := v.total(); got != sum.Accepted {
		b.Fatalf("viewer counted %d, %d accepted", got, sum.Accepted)
	}
	b.ReportMetric(sum.AcceptedRate, "ingest-events/s")
	b.ReportMetric(float64(sum.Accepted)/e2e.Seconds(), "e2e-events/s")
	b.ReportMetric(float64(sum.Latency.P99)/float64(time.Millisecond), "http-p99-ms")
	b.ReportMetric(0, "ns/op")
}
