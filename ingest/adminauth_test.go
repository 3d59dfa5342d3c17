package ingest_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// Admin token guesses are limited per client network: after the burst of
// wrong tokens a network gets 429 rate_limited, even with the right token
// (a guess answered differently would still be a guess), while another
// network keeps its own guesses and the right token works there; each
// refusal is counted by reason.
func TestAdminGuessesLimited(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Connect()
	reg, err := registry.Open(context.Background(), js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "registry", reg.Run)
	good := strings.Repeat("k", 32)
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: reg, AdminToken: good,
		AdminGuessRate: 0.001, AdminGuessBurst: 3, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	from := func(network, tok string) reply {
		req, _ := http.NewRequest(http.MethodGet, st.ops+"/v1/admin/matches", nil)
		req.Header.Set("X-Forwarded-For", network)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return st.send(t, req)
	}
	metric := func(reason string) float64 {
		return metricValue(t, st, `emostream_ingest_admin_auth_failures_total{reason="`+reason+`"}`)
	}
	if r := from("203.0.113.5", good); r.status != 200 {
		t.Fatalf("right token: %d %s", r.status, r.body)
	}
	for i, tok := range []string{"wrong-1", "", "wrong-3"} {
		if r := from("203.0.113.5", tok); r.status != 401 {
			t.Fatalf("guess %d: %d %s, want 401", i, r.status, r.body)
		}
	}
	for _, tok := range []string{"wrong-4", good} {
		r := from("203.0.113.77", tok) // the same /24
		if e := decodeJSON[apiError](t, r.body); r.status != 429 || e.Error.Code != wire.CodeRateLimited || r.header.Get("Retry-After") == "" {
			t.Errorf("past the burst with %q: %d %s, want 429 with Retry-After", tok, r.status, r.body)
		}
	}
	if r := from("198.51.100.7", "wrong-5"); r.status != 401 {
		t.Errorf("another network's guess: %d %s, want 401", r.status, r.body)
	}
	if r := from("198.51.100.7", good); r.status != 200 {
		t.Errorf("another network's right token: %d %s, want 200", r.status, r.body)
	}
	if w, m, l := metric("wrong"), metric("missing"), metric("limited"); w != 3 || m != 1 || l != 2 {
		t.Errorf("failures wrong %v, missing %v, limited %v; want 3, 1, 2", w, m, l)
	}
}

// metricValue reads one series from the ops listener's /metrics, 0 if
// it is not there.
func metricValue(t testing.TB, st *stack, series string) float64 {
	t.Helper()
	return seriesValue(string(st.doAt(t, st.ops, http.MethodGet, "/metrics", "", nil).body), series)
}
