package ingest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// A timeline query at the edges of time is answered 200 or refused 400
// bad_timeline_query; it never ends the process (a `to` in year 9999 used
// to panic in the stream writer's goroutine and kill it).
func TestTimelineEdgesOfTime(t *testing.T) {
	env := registrytest.Start(t, "final")
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: env.Registry,
		Timeline: timeline.NewReader(env.NC, wire.TimelineStream, 0), TimelineRate: -1})
	for _, q := range []string{
		"to=9999-12-31T23:59:59Z", "to=9999-12-31T23:59:59.999Z", "from=9999-12-31T23:59:00Z&to=9999-12-31T23:59:59Z",
		"to=253402300799999", "to=253402300800000", "to=9007199254740992", "to=9007199254740993",
		"to=9223372036854775807", "to=-9223372036854775808", "from=-1", "to=-1", "to=1.5", "from=0.5",
		"from=0000-01-01T00:00:00Z&to=0000-01-01T00:01:00Z", "to=0000-01-01T00:00:00Z", "from=0001-01-01T00:00:00Z",
		"to=10000-01-01T00:00:00Z", "to=9999-12-31T23:59:59%2B14:00", "to=0000-01-01T00:00:00-14:00",
		"to=1e3", "to=0x10", "to=%20", "step=5m&to=9999-12-31T23:59:59Z", "step=2s&from=253402300798000&to=253402300799999",
		"format=csv&to=9999-12-31T23:59:59Z", "to=9999-12-31T23:59:59Z&from=9999-12-31T23:59:59Z",
	} {
		t.Run(q, func(t *testing.T) {
			r := st.do(t, http.MethodGet, "/v1/matches/final/timeline?"+q, "", nil)
			t.Logf("%d %.160s", r.status, r.body)
			switch r.status {
			case http.StatusOK:
			case http.StatusBadRequest:
				if e := decodeJSON[apiError](t, r.body); e.Error.Code != wire.CodeBadTimelineQuery {
					t.Errorf("400 %s, want %s", r.body, wire.CodeBadTimelineQuery)
				}
			default:
				t.Errorf("status %d: %s", r.status, r.body)
			}
		})
	}
	// A range before 1970 (negative Unix ms) is taken as given.
	r := st.do(t, http.MethodGet, "/v1/matches/final/timeline?from=1969-12-31T23:00:00Z&to=1970-01-01T00:00:00Z&step=5m", "", nil)
	if a := decodeJSON[wire.TimelineAnswer](t, r.body); r.status != 200 || a.From.UnixMilli() != -3600_000 || a.To.UnixMilli() != 0 ||
		!strings.Contains(string(r.body), `"from":"1969-12-31T23:00:00Z","to":"1970-01-01T00:00:00Z"`) {
		t.Errorf("a range before 1970: %d %s", r.status, r.body)
	}
	// The server is still there.
	if r := st.do(t, http.MethodGet, "/v1/matches/final/timeline?to="+url.QueryEscape("2026-11-23T05:00:00Z"), "", nil); r.status != http.StatusOK {
		t.Fatalf("after the edges: %d %s", r.status, r.body)
	}
}
