package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// by= picks the view: named (the default) moves a late count back to the
// window its 202 named, arrival leaves it where its swarm carried it,
// video moves each count to its program-time window (the video record:
// the late counts, which had no video_ts, to the window they were
// received in, and one with a video_ts 10 s earlier there); any other
// view is a bad query.
func TestTimelineBy(t *testing.T) {
	env := registrytest.Start(t, "m")
	ctx := context.Background()
	w0 := wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), 60_000)
	put := func(kind string, v any) {
		b, _ := json.Marshal(v)
		if _, err := env.JS.Publish(ctx, wire.TimelineSubject("m", kind), b); err != nil {
			t.Fatal(err)
		}
	}
	put(wire.TimelineWindows, wire.TimelineRecord{Start: w0, Counts: map[string]int64{"🔥": 1}, Total: 1, Swarm: 1})
	put(wire.TimelineWindows, wire.TimelineRecord{Start: w0 + 2000, Counts: map[string]int64{"🔥": 3}, Total: 3, Swarm: 2, Late: 2})
	put(wire.TimelineLate, wire.LateRecord{Start: w0 + 2000, Swarm: 2, Windows: map[int64]map[string]int64{w0: {"🔥": 2}}})
	put(wire.TimelineVideo, wire.LateRecord{Start: w0 + 2000, Swarm: 2, Windows: map[int64]map[string]int64{w0: {"🔥": 2}, w0 - 10_000: {"🔥": 1}}})
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: env.Registry,
		Timeline: timeline.NewReader(env.NC, wire.TimelineStream, 0), TimelineRate: -1})
	for _, tt := range []struct {
		by, want string
		counts   []int64
	}{{"", "named", []int64{3, 1}}, {"named", "named", []int64{3, 1}}, {"arrival", "arrival", []int64{1, 3}}, {"video", "video", []int64{1, 3}}} {
		r := st.do(t, http.MethodGet, "/v1/matches/m/timeline?step=2s&by="+tt.by, "", nil)
		a := decodeJSON[wire.TimelineAnswer](t, r.body)
		var got []int64
		for _, s := range a.Steps {
			got = append(got, s.Total)
		}
		if r.status != http.StatusOK || a.By != tt.want || len(got) != 2 || got[0] != tt.counts[0] || got[1] != tt.counts[1] || a.Total != 4 {
			t.Errorf("by=%s: %d by %q steps %v total %d, want by %q steps %v total 4", tt.by, r.status, a.By, got, a.Total, tt.want, tt.counts)
		}
	}
	// A match whose first events all came late: the default range begins
	// with the window they were received in.
	put(wire.TimelineWindows, wire.TimelineRecord{Start: w0 + 6000, Counts: map[string]int64{"👏": 5}, Total: 5, Swarm: 3, Late: 5})
	put(wire.TimelineLate, wire.LateRecord{Start: w0 + 6000, Swarm: 3, Windows: map[int64]map[string]int64{w0 - 4000: {"👏": 5}}})
	r := st.do(t, http.MethodGet, "/v1/matches/m/timeline?step=2s", "", nil)
	if a := decodeJSON[wire.TimelineAnswer](t, r.body); len(a.Steps) != 3 || a.Steps[0].Start.UnixMilli() != w0-4000 || a.Total != 9 {
		t.Errorf("default range: %+v, want 3 steps from the late window %d, total 9", a, w0-4000)
	}
	r = st.do(t, http.MethodGet, "/v1/matches/m/timeline?by=program", "", nil)
	if e := decodeJSON[apiError](t, r.body); r.status != http.StatusBadRequest || e.Error.Code != wire.CodeBadTimelineQuery {
		t.Errorf("by=program: %d %s, want 400 %s", r.status, r.body, wire.CodeBadTimelineQuery)
	}
}
