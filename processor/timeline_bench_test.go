package processor

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// benchEmojis are the 20 emojis of a busy match.
var benchEmojis = append(append([]string{}, wire.DefaultEmojis...), "🙌", "😍", "🤯", "😱", "🥳", "💔", "👀", "🔔")[:20]

// BenchmarkTimelineQuery measures GET /v1/matches/{id}/timeline at the
// server (ingest's handler, the answer written to io.Discard) for 1 and 3
// hours of a busy match: a 2 s window record with 20 emojis for every
// window, and the 1m and 5m rollups the processor writes (its own code
// writes them here). The range is the whole match.
func BenchmarkTimelineQuery(b *testing.B) {
	for _, hours := range []int{1, 3} {
		h := timelineMatch(b, hours)
		for _, step := range []string{"2s", "1m", "5m"} {
			for _, q := range []struct{ format, by, last string }{{"json", "named", ""}, {"json", "video", ""},
				{"json", "named", "10m"}, {"json", "video", "10m"}, {"csv", "named", ""}} {
				format, name := q.format, fmt.Sprintf("%dh/%s/%s/%s", hours, step, q.format, q.by)
				if q.last != "" {
					name += "/last" + q.last
				}
				b.Run(name, func(b *testing.B) {
					uri := "/v1/matches/busy/timeline?step=" + step + "&format=" + format + "&by=" + q.by
					if q.last != "" { // the last 10 minutes
						uri += fmt.Sprint("&from=", time.Now().Add(-10*time.Minute).UnixMilli())
					}
					var bytes int
					for range b.N {
						var ctx fasthttp.RequestCtx
						ctx.Request.SetRequestURI(uri)
						h(&ctx)
						if ctx.Response.StatusCode() != 200 {
							b.Fatalf("%s: %d %s", uri, ctx.Response.StatusCode(), ctx.Response.Body())
						}
						var cw countWriter
						if err := ctx.Response.BodyWriteTo(&cw); err != nil {
							b.Fatal(err)
						}
						bytes = int(cw)
					}
					b.ReportMetric(float64(bytes), "bytes/answer")
				})
			}
		}
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// benchVideo is the video_windows of window i of a match starting at
// start with counts c: a twentieth of every emoji's count in each of the
// 15 windows before (viewers up to 30 s behind live), none before start.
func benchVideo(start int64, i int, c map[string]int64) map[int64]map[string]int64 {
	v := map[int64]map[string]int64{}
	for k := 1; k <= 15 && i-k >= 0; k++ {
		w := map[string]int64{}
		for e, n := range c {
			w[e] = n / 20
		}
		v[start+int64(i-k)*2000] = w
	}
	return v
}

// timelineMatch stores hours of match "busy" in a fresh NATS server, with
// a video record for every window (benchVideo), and returns ingest's
// handler on it.
func timelineMatch(b *testing.B, hours int) fasthttp.RequestHandler {
	env := registrytest.Start(b, "busy")
	nc, ctx := env.NC, context.Background()
	p, err := New(Config{NATSURL: env.NATS.URL, Partitions: 1, Logger: testenv.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.open(ctx, nc); err != nil {
		b.Fatal(err)
	}
	tl := p.newTimeline()
	start := wire.WindowStart(time.Now().Add(-time.Duration(hours)*time.Hour).UnixMilli(), 300_000)
	for i := range hours * 1800 {
		c := map[string]int64{}
		var total int64
		for j, e := range benchEmojis {
			c[e] = int64(100 + (i*7+j*13)%900)
			total += c[e]
		}
		ws := time.UnixMilli(start + int64(i)*2000).UTC()
		sw := &wire.Swarm{MatchID: "busy", WindowStart: ws, WindowEnd: ws.Add(2 * time.Second), Counts: c, Total: total,
			VideoWindows: benchVideo(start, i, c)}
		if err := p.writeSync(ctx, tl, sw, uint64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	srv, err := ingest.New(ingest.Config{Listener: ln, KafkaBrokers: []string{"127.0.0.1:1"}, Matches: env.Registry,
		Emojis: benchEmojis, Timeline: timeline.NewReader(nc, wire.TimelineStream, 0), TimelineRate: -1})
	if err != nil {
		b.Fatal(err)
	}
	// Run builds the routes' tree the handler serves from (without it,
	// every path is 404); it serves until the benchmark ends.
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(rctx) }()
	b.Cleanup(func() { stop(); <-done })
	h := srv.Handler()
	testenv.WaitFor(b, 10*time.Second, "the timeline route", func() bool {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/v1/matches/busy/timeline?step=5m")
		h(&ctx)
		return ctx.Response.StatusCode() == 200
	})
	return h
}

// BenchmarkTimelineCost measures the processor's cost of the timeline
// (window records, rollups, moment rule): each op is one 2 s window of
// 1,000,000 events (500k events/s) from 8 partitions of 100 matches × 20
// emojis, merged and published to a real JetStream, with the timeline on
// and off. ns/op is the time to close a window, from its partials to its
// swarms stored; cpu-ms/op is the process's CPU time per window, the
// embedded NATS server's (storing twice the messages) included.
func BenchmarkTimelineCost(b *testing.B) {
	for _, off := range []bool{false, true} {
		b.Run(fmt.Sprintf("timeline=%v", !off), func(b *testing.B) {
			benchWindows(b, 8, 100, benchEmojis, Config{DisableTimeline: off})
		})
	}
}

// benchWindows runs b.N windows of parts partitions' partials of matches
// × emojis, about 1,000,000 events a window, through closeWindow.
func benchWindows(b *testing.B, parts, matches int, emojis []string, cfg Config) {
	n := testenv.StartNATS(b)
	nc, js := n.Connect()
	ctx := context.Background()
	if err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
		b.Fatal(err)
	}
	cfg.NATSURL, cfg.Partitions, cfg.Logger = n.URL, parts, testenv.Logger(b)
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.open(ctx, nc); err != nil {
		b.Fatal(err)
	}
	p.s = &session{m: newMerger(p.cfg.Window, p.cfg.PartitionWait, parts), states: newStateCache(p.cfg.MaxMatchStates)}
	counts := wire.Counts{}
	per := max(1, 1_000_000/int64(parts*matches*len(emojis)))
	for m := range matches {
		for _, e := range emojis {
			counts.Add(fmt.Sprintf("match-%d", m), e, per)
		}
	}
	total := counts.Total()
	start := wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), 2000)
	window := func(i int) {
		ws := start + int64(i)*2000
		for q := range int32(parts) {
			pt := &wire.Partial{Partition: q, WindowStartMs: ws, WindowMs: 2000,
				FirstOffset: int64(i) * total, LastOffset: int64(i+1)*total - 1, Counts: counts}
			p.s.m.add(pt, uint64(i*parts)+uint64(q)+1, time.Now(), nil)
		}
		w, rule := p.s.m.next(time.Now(), true)
		if err := p.closeWindow(ctx, w, rule); err != nil {
			b.Fatal(err)
		}
	}
	window(0) // the first window reads every match's state and timeline back
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		// Live windows are 2 s apart: the previous window's timeline
		// records are stored by the time the next closes. Waiting for them
		// is left out of the window's time (its CPU is counted).
		b.StopTimer()
		p.awaitTimeline(ctx)
		b.StartTimer()
		window(i + 1)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(total*int64(parts))/2, "events/s")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
