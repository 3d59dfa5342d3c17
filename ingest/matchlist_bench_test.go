package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// BenchmarkMatchList: the server's cost of one GET /v1/matches answer
// (through the handler, no network) with a full registry of 10,000 live
// matches: a page of 1,000, a default page of 200, and a 429.
//
//	go test -run '^$' -bench MatchList -count 3 ./ingest/
func BenchmarkMatchList(b *testing.B) {
	reg, js := runRegistry(b, registry.Config{})
	kv, err := js.KeyValue(context.Background(), wire.MatchesBucket)
	if err != nil {
		b.Fatal(err)
	}
	fillBucket(b, kv, registry.DefaultMaxMatches)
	testenv.WaitFor(b, time.Minute, "10,000 matches loaded", func() bool {
		return reg.Ready() == nil && reg.Snapshot().Len() == registry.DefaultMaxMatches
	})
	k := testenv.StartKafka(b, 1).Target()
	open := startIngest(b, k, ingest.Config{Matches: reg, MatchesRate: -1}).srv.Handler()
	limited := startIngest(b, k, ingest.Config{Matches: reg, MatchesRate: 0.001, MatchesBurst: 1}).srv.Handler()
	limited(listCtx("limit=1")) // spends the one token
	for _, c := range []struct {
		name, query string
		h           fasthttp.RequestHandler
		status      int
	}{{"page-1000", "limit=1000", open, 200}, {"page-200", "", open, 200}, {"429", "", limited, 429}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := listCtx(c.query)
			for b.Loop() {
				c.h(ctx)
				if ctx.Response.StatusCode() != c.status {
					b.Fatalf("status %d: %.200s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
				b.SetBytes(int64(len(ctx.Response.Body())))
				ctx.Response.Reset()
			}
		})
	}
}

func listCtx(query string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(fasthttp.MethodGet)
	ctx.Request.SetRequestURI("/v1/matches?" + query)
	return ctx
}

// fillBucket creates n live matches with 64-byte ids in kv, 32 at a time.
func fillBucket(b *testing.B, kv jetstream.KeyValue, n int) {
	b.Helper()
	ids := make(chan int, n)
	for i := range n {
		ids <- i
	}
	close(ids)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				id := fmt.Sprintf("bench-%09d-%s", i, strings.Repeat("x", 48))
				v, _ := json.Marshal(registry.Match{ID: id, State: registry.Live, Title: "Match " + id[6:15],
					Home: "Home team", Away: "Away team", CreatedAt: time.Now().UTC()})
				if _, err := kv.Create(context.Background(), id, v); err != nil {
					b.Errorf("filling the registry: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
