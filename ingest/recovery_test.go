package ingest_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// panickyTimeline is the real timeline reader, except that it panics for
// the match "boom" (in Steps: inside the streamed answer) and "boom-early"
// (in Earliest: inside the handler).
type panickyTimeline struct{ *timeline.Reader }

func (p panickyTimeline) Steps(ctx context.Context, q timeline.Query, emit func(timeline.Step) error) error {
	if q.Match == "boom" {
		panic("planted in Steps")
	}
	return p.Reader.Steps(ctx, q, emit)
}

func (p panickyTimeline) Earliest(ctx context.Context, match string) (int64, bool, error) {
	if match == "boom-early" {
		panic("planted in Earliest")
	}
	return p.Reader.Earliest(ctx, match)
}

// panickyRegistry is the real registry, except that List (GET
// /v1/admin/matches) panics.
type panickyRegistry struct{ *registry.Registry }

func (panickyRegistry) List(context.Context) ([]registry.Match, error) { panic("planted in List") }

// A panic planted in a public handler, in a streamed answer and in an ops
// (admin) handler fails only that request: 500 internal, or a cut stream;
// each is logged once with its stack and counted in emostream_panics_total;
// the server goes on serving reactions, timelines and the admin API.
func TestPanicFailsOnlyItsRequest(t *testing.T) {
	env := registrytest.Start(t, "final")
	ctx := context.Background()
	for _, id := range []string{"boom", "boom-early"} {
		if _, err := env.Registry.Create(ctx, registry.Match{ID: id, State: registry.Live}); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testenv.LogBuffer{}
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: panickyRegistry{env.Registry},
		Timeline: panickyTimeline{timeline.NewReader(env.NC, wire.TimelineStream, 0)}, TimelineRate: -1,
		AdminToken: strings.Repeat("a", 32), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	before := panicCounts(t, st)

	r := st.do(t, http.MethodGet, "/v1/matches/boom-early/timeline", "", nil)
	if e := decodeJSON[apiError](t, r.body); r.status != 500 || e.Error.Code != wire.CodeInternal {
		t.Errorf("handler panic: %d %s, want 500 internal", r.status, r.body)
	}
	if res, err := http.Get(st.url + "/v1/matches/boom/timeline"); err == nil {
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("stream panic: read %d %q whole, want the answer cut", res.StatusCode, b)
		}
	}
	r = st.admin(t, http.MethodGet, "/v1/admin/matches", strings.Repeat("a", 32), "")
	if e := decodeJSON[apiError](t, r.body); r.status != 500 || e.Error.Code != wire.CodeInternal {
		t.Errorf("admin panic: %d %s, want 500 internal", r.status, r.body)
	}

	if r := st.post(t, event("u", "final", "🔥")); r.status != http.StatusAccepted {
		t.Errorf("POST after the panics: %d %s", r.status, r.body)
	}
	if r := st.do(t, http.MethodGet, "/v1/matches/final/timeline", "", nil); r.status != 200 {
		t.Errorf("timeline after the panics: %d %s", r.status, r.body)
	}
	if r := st.admin(t, http.MethodGet, "/v1/admin/matches/final", strings.Repeat("a", 32), ""); r.status != 200 {
		t.Errorf("admin after the panics: %d %s", r.status, r.body)
	}
	after := panicCounts(t, st)
	for _, c := range []string{"ingest_api", "ingest_stream", "ingest_ops"} {
		if after[c]-before[c] != 1 {
			t.Errorf("emostream_panics_total{component=%q} went from %v to %v, want one more", c, before[c], after[c])
		}
	}
	for _, where := range []string{"planted in Steps", "planted in Earliest", "planted in List"} {
		if n := strings.Count(logs.String(), "panic="+strconv.Quote(where)); n != 1 {
			t.Errorf("%q logged %d times, want once", where, n)
		}
	}
	if n := strings.Count(logs.String(), "panickyTimeline.Steps"); n != 1 {
		t.Errorf("the stack of the stream's panic logged %d times, want once:\n%s", n, logs.String())
	}
}

var panicSeries = regexp.MustCompile(`(?m)^emostream_panics_total\{component="([^"]+)"\} (\S+)$`)

// panicCounts reads emostream_panics_total from the ops listener.
func panicCounts(t testing.TB, st *stack) map[string]float64 {
	t.Helper()
	r := st.doAt(t, st.ops, http.MethodGet, "/metrics", "", nil)
	out := map[string]float64{}
	for _, m := range panicSeries.FindAllStringSubmatch(string(r.body), -1) {
		out[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	if _, ok := out["ingest_api"]; !ok {
		t.Fatalf("no emostream_panics_total on /metrics:\n%s", r.body)
	}
	return out
}
