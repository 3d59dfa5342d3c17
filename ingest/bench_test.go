package ingest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// benchBodies returns n request bodies of size events each, with distinct
// users.
func benchBodies(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		evs := make([]string, size)
		for e := range evs {
			evs[e] = event(fmt.Sprintf("bench-%d-%d", i, e), "bench", "🔥")
		}
		out[i] = []byte(evs[0])
		if size > 1 {
			out[i] = []byte("[" + strings.Join(evs, ",") + "]")
		}
	}
	return out
}

// benchPost runs the handler (decode, rate-limit, produce with acks=all to
// the embedded broker syncing every batch, reply) from 64 goroutines per
// CPU, so group commit has company, and reports events/s.
func benchPost(b *testing.B, cfg ingest.Config, size int) {
	k := testenv.StartKafka(b, 8).Target()
	cfg.UserRate, cfg.IPRate = -1, -1
	st := startIngest(b, k, cfg)
	h := st.srv.Handler()
	bodies := benchBodies(256, size)
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI("/v1/emojis")
		ctx.Request.Header.SetContentType("application/json")
		for i := 0; pb.Next(); i++ {
			ctx.Request.SetBody(bodies[i%len(bodies)])
			h(&ctx)
			if ctx.Response.StatusCode() != fasthttp.StatusAccepted {
				b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				return
			}
			ctx.Response.Reset()
		}
	})
	b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkPostOneEvent(b *testing.B)  { benchPost(b, ingest.Config{}, 1) }
func BenchmarkPost100Events(b *testing.B) { benchPost(b, ingest.Config{}, 100) }
func BenchmarkPostBuffered(b *testing.B)  { benchPost(b, ingest.Config{Ack: ingest.AckBuffered}, 1) }
func BenchmarkPost100Buffered(b *testing.B) {
	benchPost(b, ingest.Config{Ack: ingest.AckBuffered}, 100)
}
