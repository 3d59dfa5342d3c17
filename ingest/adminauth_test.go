package ingest_test

import (
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
	reg, _ := runRegistry(t, registry.Config{})
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

// TestAdminOffSaysHowToTurnItOn: without an admin token every admin path
// on the ops listener answers 404 not_found naming the flag and the
// variable that turn it on; on the public listener, with or without a
// token, it names the ops listener (issue 21).
func TestAdminOffSaysHowToTurnItOn(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	off := startIngest(t, k, ingest.Config{})
	on, _ := startWithRegistry(t, testAdminToken)
	tests := []struct {
		base, method, path, want string
	}{
		{off.ops, "GET", "/v1/admin/matches", "--admin-token-file"},
		{off.ops, "POST", "/v1/admin/matches/final/start", "EMOSTREAM_ADMIN_TOKEN"},
		{off.ops, "GET", "/v1/admin", "--admin-token-file"},
		{off.url, "GET", "/v1/admin/matches", "ops listener (--ops"},
		{on.url, "DELETE", "/v1/admin/matches/final", "ops listener (--ops"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, tt.base+tt.path, nil)
		r := off.send(t, req)
		e := decodeJSON[apiError](t, r.body)
		if r.status != 404 || e.Error.Code != wire.CodeNotFound || !strings.Contains(e.Error.Message, tt.want) {
			t.Errorf("%s %s%s: %d %s, want 404 not_found saying %q", tt.method, tt.base, tt.path, r.status, r.body, tt.want)
		}
	}
	if r := off.send(t, mustRequest(t, "GET", off.ops+"/v1/adminx")); r.status != 404 || strings.Contains(string(r.body), "admin API") {
		t.Errorf("GET /v1/adminx: %d %s, want the plain 404", r.status, r.body)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
