package ingest_test

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// BenchmarkHealthz is one GET /healthz through the public app's handler:
// the cost of the middleware every request passes.
func BenchmarkHealthz(b *testing.B) {
	st := startIngest(b, testenv.StartKafka(b, 1).Target(), ingest.Config{})
	h := st.srv.Handler()
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI("/healthz")
		h(&ctx)
	}
}
