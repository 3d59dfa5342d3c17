package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// BenchmarkHostileMatchList: a flood of GET /v1/matches?limit=1000 against
// a full registry (10,000 matches: the live legitimate one and 9,999 others
// with 64-byte ids and titles), while the legitimate client and viewer of
// the harness run. "1-network-120/s" is the flood (120 requests/s
// from one client), "1-network-unpaced" 4 connections of one /24 as fast
// as they go, "50-networks-40/s" 50 /24s at 40 requests/s each (2,000/s).
// Reports the legitimate match's window delivery lag p99, quiet and under
// the flood, their ratio (goal: at most 2), the answers (200 and 429) and
// the process's memory.
//
//	go test -run '^$' -bench HostileMatchList -benchtime 1x -count 3 ./stack/
//
// Every loop is bounded in count and time and sends only to loopback
// (127.0.9.0/24 for one network, 127.0.30.0/24 to 127.0.79.0/24 for 50).
func BenchmarkHostileMatchList(b *testing.B) {
	b.Run("1-network-120/s", func(b *testing.B) { benchMatchList(b, 1, 1, time.Second/120) })
	b.Run("1-network-unpaced", func(b *testing.B) { benchMatchList(b, 1, 4, 0) })
	b.Run("50-networks-40/s", func(b *testing.B) { benchMatchList(b, 50, 1, time.Second/40) })
}

// listFloodFor is the flood's length (12 windows).
const listFloodFor = 24 * time.Second

func benchMatchList(b *testing.B, networks, conns int, every time.Duration) {
	s := startScenario(b, stack.Config{}, 1)
	fillRegistry(b, s.st, registry.DefaultMaxMatches-1)
	s.requiet(quietWindows)
	var ok, limited, other, bytes atomic.Int64
	s.run(listFloodFor, func(deadline time.Time) {
		var wg sync.WaitGroup
		for n := range networks {
			for c := range conns {
				local := fmt.Sprintf("127.0.%d.%d", 9, c+1)
				if networks > 1 {
					local = fmt.Sprintf("127.0.%d.1", 30+n)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					listFlood(s.st.HTTPURL(), local, every, deadline, func(status int, n int64) {
						bytes.Add(n)
						switch status {
						case http.StatusOK:
							ok.Add(1)
						case http.StatusTooManyRequests:
							limited.Add(1)
						default:
							other.Add(1)
						}
					})
				}()
			}
		}
		wg.Wait()
	})
	quiet := s.v.lags(s.quiet[0], s.quiet[1])
	flood := s.v.lags(s.attack[0], s.attack[1].Add(benchWindow))
	s.finish()
	q99, f99 := percentile(quiet, 99), percentile(flood, 99)
	b.ReportMetric(q99, "lag_p99_quiet_ms")
	b.ReportMetric(f99, "lag_p99_flood_ms")
	if q99 > 0 {
		b.ReportMetric(f99/q99, "lag_ratio")
	}
	secs := s.attack[1].Sub(s.attack[0]).Seconds()
	b.ReportMetric(float64(ok.Load()+limited.Load()+other.Load())/secs, "list_req/s")
	b.ReportMetric(float64(ok.Load())/secs, "list_200/s")
	b.ReportMetric(float64(limited.Load())/secs, "list_429/s")
	b.ReportMetric(float64(bytes.Load())/secs/(1<<20), "list_MiB/s")
	if other.Load() > 0 {
		b.Errorf("%d list requests answered neither 200 nor 429", other.Load())
	}
	b.Logf("quiet lags %v; flood lags %v", quiet, flood)
}

// requiet measures the quiet phase again, n windows from now.
func (s *scenario) requiet(n int) {
	s.quiet[0] = nextWindow(time.Now())
	s.quiet[1] = s.quiet[0].Add(time.Duration(n) * benchWindow)
	sleepUntil(s.quiet[1])
	s.before = readMem()
	resetPeak()
	s.before.hwm = s.before.rss
}

// listFlood GETs /v1/matches?limit=1000 from local every (0: as fast as
// it goes) until deadline, at most 100,000 times, and reads each answer.
func listFlood(base, local string, every time.Duration, deadline time.Time, got func(status int, n int64)) {
	client := clientFrom(local, 10*time.Second, true)
	defer client.CloseIdleConnections()
	next := time.Now()
	for r := 0; r < 100_000 && time.Now().Before(deadline); r++ {
		if every > 0 {
			sleepUntil(next)
			next = next.Add(every)
		}
		res, err := client.Get(base + "/v1/matches?limit=1000")
		if err != nil {
			got(0, 0)
			continue
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		got(res.StatusCode, n)
	}
}

// fillRegistry writes n live operator matches (64-byte ids, titles and
// teams) straight into the registry's bucket, 32 at a time, and waits
// until the stack's copy holds them.
func fillRegistry(b *testing.B, st *stack.Stack, n int) {
	b.Helper()
	nc, err := nats.Connect(st.NATSURL(), st.NATSOptions(fanout.UserAdmin)...)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kv, err := js.KeyValue(ctx, wire.MatchesBucket)
	if err != nil {
		b.Fatal(err)
	}
	before := gatherSum(st.Registry, "emostream_registry_matches")
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
				id := matchID64("list", i)
				v, _ := json.Marshal(registry.Match{ID: id, State: registry.Live, Title: "Match number " + id[5:14],
					Home: "Home team", Away: "Away team", CreatedAt: time.Now().UTC()})
				if _, err := kv.Create(ctx, id, v); err != nil {
					b.Errorf("filling the registry: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	testenv.WaitFor(b, time.Minute, "the registry copy full", func() bool {
		return gatherSum(st.Registry, "emostream_registry_matches") >= before+float64(n)
	})
}
