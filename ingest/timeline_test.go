package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// A match's window records (with an empty stretch), a one-minute rollup of
// its first minute and a moment, stored as the processor stores them: every
// step size sums exactly the windows in it; bad queries are refused.
func TestTimelineAPI(t *testing.T) {
	env := registrytest.Start(t, "final")
	nc, js, reg, ctx := env.NC, env.JS, env.Registry, context.Background()
	t0 := wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), (5 * time.Minute).Milliseconds())
	windows := map[int64]map[string]int64{} // start → counts
	var first, last uint64
	put := func(subject string, v any, id string) uint64 {
		b, _ := json.Marshal(v)
		ack, err := js.Publish(ctx, subject, b, jetstream.WithMsgID(id))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	rollup := wire.TimelineRecord{Start: t0, Counts: map[string]int64{}}
	for i := range 45 {
		if i >= 10 && i < 20 {
			continue // nothing happened
		}
		if i == 30 { // the first minute closed
			rollup.First, rollup.Last = first, last
			put(wire.TimelineSubject("final", "1m"), rollup, "r")
		}
		start := t0 + int64(i)*2000
		c := map[string]int64{"🔥": int64(i + 1), "👏": 2}
		windows[start] = c
		seq := put(wire.TimelineSubject("final", wire.TimelineWindows), wire.TimelineRecord{Start: start, Counts: c, Total: int64(i + 3), Swarm: uint64(i + 1)}, fmt.Sprint(i))
		if i < 30 {
			first, last = min(first, seq), seq
			if first == 0 {
				first = seq
			}
			for e, k := range c {
				rollup.Counts[e] += k
			}
			rollup.Total += int64(i + 3)
		}
	}
	mo := wire.Moment{MatchID: "final", WindowStart: time.UnixMilli(t0 + 40_000).UTC(), WindowEnd: time.UnixMilli(t0 + 42_000).UTC(), Size: 50, Ratio: 4, Rule: "total"}
	put(wire.MomentSubject("final"), mo, "m")
	kafka := testenv.StartKafka(t, 2).Target()
	st := startIngest(t, kafka, ingest.Config{Matches: reg,
		Timeline: timeline.NewReader(nc, wire.TimelineStream, 0), TimelineRate: -1})

	want := func(stepMs, from, to int64) map[int64]map[string]int64 {
		out := map[int64]map[string]int64{}
		for s, c := range windows {
			k := wire.WindowStart(s, stepMs)
			if k < from || k >= to {
				continue
			}
			if out[k] == nil {
				out[k] = map[string]int64{}
			}
			for e, n := range c {
				out[k][e] += n
			}
		}
		return out
	}
	for _, tt := range []struct {
		step     string
		stepMs   int64
		from, to int64
	}{
		{"2s", 2000, t0, t0 + 90_000},
		{"10s", 10_000, t0, t0 + 90_000},
		{"1m", 60_000, t0, t0 + 120_000},
		{"5m", 300_000, t0, t0 + 300_000},
		{"10s", 10_000, t0 + 20_000, t0 + 60_000}, // boundaries inside the stretch
		{"1m", 60_000, t0 + 60_000, t0 + 120_000}, // after the rollup only
	} {
		t.Run(fmt.Sprintf("%s/%d-%d", tt.step, tt.from-t0, tt.to-t0), func(t *testing.T) {
			r := st.do(t, http.MethodGet, fmt.Sprintf("/v1/matches/final/timeline?step=%s&from=%d&to=%d", tt.step, tt.from, tt.to), "", nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			a := decodeJSON[wire.TimelineAnswer](t, r.body)
			got := map[int64]map[string]int64{}
			var total int64
			for _, s := range a.Steps {
				if s.End.Sub(s.Start).Milliseconds() != tt.stepMs {
					t.Errorf("step %v..%v is not %s long", s.Start, s.End, tt.step)
				}
				got[s.Start.UnixMilli()] = s.Counts
				total += s.Total
			}
			w := want(tt.stepMs, tt.from, tt.to)
			if !maps.EqualFunc(got, w, maps.Equal) || len(a.Steps) != len(w) || a.Total != total {
				t.Errorf("got %v (total %d, sum of steps %d), want %v", got, a.Total, total, w)
			}
			wantMoments := 0
			if t0+40_000 >= tt.from && t0+40_000 < tt.to {
				wantMoments = 1
			}
			if len(a.Moments) != wantMoments {
				t.Errorf("moments %v, want %d", a.Moments, wantMoments)
			}
		})
	}
	t.Run("default range and CSV", func(t *testing.T) {
		r := st.do(t, http.MethodGet, "/v1/matches/final/timeline?format=csv&step=10s", "", nil)
		lines := strings.Split(strings.TrimSpace(string(r.body)), "\r\n")
		if r.status != http.StatusOK || !strings.HasPrefix(lines[0], "start,end,total,") || len(lines) != 1+len(want(10_000, t0, t0+90_000)) {
			t.Fatalf("status %d, %d lines:\n%s", r.status, len(lines), r.body)
		}
		if !strings.HasPrefix(lines[1], time.UnixMilli(t0).UTC().Format(time.RFC3339)+",") {
			t.Errorf("first row %q, want the match's first step", lines[1])
		}
	})
	for _, tt := range []struct{ name, query, code string }{
		{"unknown match", "/v1/matches/nope/timeline", wire.CodeUnknownMatch},
		{"bad match id", "/v1/matches/no%20pe/timeline", wire.CodeUnknownMatch},
		{"bad step", "/v1/matches/final/timeline?step=3s", wire.CodeBadTimelineQuery},
		{"bad from", "/v1/matches/final/timeline?from=yesterday", wire.CodeBadTimelineQuery},
		{"to before from", fmt.Sprintf("/v1/matches/final/timeline?from=%d&to=%d", t0+10_000, t0), wire.CodeBadTimelineQuery},
		{"huge range", "/v1/matches/final/timeline?step=2s&from=0", wire.CodeBadTimelineQuery},
		{"bad format", "/v1/matches/final/timeline?format=xml", wire.CodeBadTimelineQuery},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := st.do(t, http.MethodGet, tt.query, "", nil)
			e := decodeJSON[apiError](t, r.body)
			if r.status != wire.HTTPStatus(tt.code) || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("status %d %s, want %d %s", r.status, r.body, wire.HTTPStatus(tt.code), tt.code)
			}
		})
	}
	t.Run("rate limited", func(t *testing.T) {
		lim := startIngest(t, kafka, ingest.Config{Matches: reg, Timeline: timeline.NewReader(nc, wire.TimelineStream, 0),
			TimelineRate: 0.01, TimelineBurst: 2})
		for i, want := range []int{200, 200, 429} {
			r := lim.do(t, http.MethodGet, "/v1/matches/final/timeline", "", nil)
			if r.status != want || want == 429 && (decodeJSON[apiError](t, r.body).Error.Code != wire.CodeRateLimited || r.header.Get("Retry-After") == "") {
				t.Errorf("request %d: %d %s, want %d", i, r.status, r.body, want)
			}
		}
	})
}

// TestTimelineClientsAreNotStoreFailures: a HEAD of a timeline, and a
// client that leaves in the middle of a long answer, are no fault of the
// store: requests_rejected_total{code="registry_unavailable"} (what an
// alert on the timeline store watches) stays 0 and nothing is warned. A
// HEAD used to stream the answer into a pipe fasthttp had closed.
func TestTimelineClientsAreNotStoreFailures(t *testing.T) {
	env := registrytest.Start(t, "final")
	ctx := context.Background()
	t0 := wire.WindowStart(time.Now().Add(-2*time.Hour).UnixMilli(), 60_000)
	for i := range 1200 { // over 64 KiB of answer at 2 s steps
		b, _ := json.Marshal(wire.TimelineRecord{Start: t0 + int64(i)*2000, Counts: map[string]int64{"🔥": 1}, Total: 1, Swarm: uint64(i + 1)})
		if _, err := env.JS.Publish(ctx, wire.TimelineSubject("final", wire.TimelineWindows), b, jetstream.WithMsgID(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testenv.LogBuffer{}
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: env.Registry,
		Timeline: timeline.NewReader(env.NC, wire.TimelineStream, 0), TimelineRate: -1,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	q := fmt.Sprintf("/v1/matches/final/timeline?step=2s&from=%d&to=%d", t0, t0+2400_000)
	series := `emostream_ingest_requests_rejected_total{code="registry_unavailable"}`

	if r := st.do(t, http.MethodGet, q, "", nil); r.status != 200 || len(r.body) < 64<<10 {
		t.Fatalf("GET: %d, %d bytes, want 200 and over 64 KiB", r.status, len(r.body))
	}
	r := st.do(t, http.MethodHead, q, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("HEAD: %d %v", r.status, r.header)
	}

	// A client that reads the head of the answer and leaves.
	c, err := net.Dial("tcp", strings.TrimPrefix(st.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", q)
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("status line %q, %v", line, err)
	}
	c.Close()
	testenv.WaitFor(t, 10*time.Second, "the stream to notice the client left", func() bool {
		return strings.Contains(logs.String(), "timeline answer not read to its end")
	})
	if v := metricValue(t, st, series); v != 0 {
		t.Errorf("%s = %v after a HEAD and a client that left, want 0", series, v)
	}
	if strings.Contains(logs.String(), "timeline answer cut short") {
		t.Errorf("warned of a store failure:\n%s", logs.String())
	}
}
