package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

const testAdminToken = "0123456789abcdef-test"

// runRegistry opens a match registry of cfg on a new real NATS server and
// runs its watch until the test ends; js is the server's JetStream.
func runRegistry(t testing.TB, cfg registry.Config) (*registry.Registry, jetstream.JetStream) {
	t.Helper()
	_, js := testenv.StartNATS(t).Connect()
	reg, err := registry.Open(context.Background(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "registry", reg.Run)
	return reg, js
}

// startWithRegistry runs ingest with a match registry on a real NATS
// server, its watch running.
func startWithRegistry(t *testing.T, token string) (*stack, *registry.Registry) {
	t.Helper()
	reg, _ := runRegistry(t, registry.Config{})
	st := startIngest(t, testenv.StartKafka(t, 4).Target(), ingest.Config{Matches: reg, AdminToken: token})
	return st, reg
}

func (st *stack) admin(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, st.ops+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

func matchEvent(match string) string {
	return `{"user_id":"u1","match_id":"` + match + `","emoji_type":"🔥"}`
}

// wantError checks a refusal's status, code and index.
func wantError(t *testing.T, r reply, status int, code string, index int) {
	t.Helper()
	e := decodeJSON[apiError](t, r.body)
	if r.status != status || e.Error.Code != code || (index >= 0) != (e.Error.Index != nil) ||
		e.Error.Index != nil && *e.Error.Index != index {
		t.Fatalf("got %d %s, want %d %s at index %d", r.status, r.body, status, code, index)
	}
}

// TestMatchesAdmission: reactions only for live matches; a refused request
// writes nothing to Kafka, whatever else it holds.
func TestMatchesAdmission(t *testing.T) {
	st, reg := startWithRegistry(t, testAdminToken)
	before := st.k.EndOffsets(t)
	wantError(t, st.post(t, matchEvent("nope")), 404, wire.CodeUnknownMatch, 0)
	r := st.admin(t, "POST", "/v1/admin/matches", testAdminToken, `{"id":"final","title":"Final","home":"A","away":"B"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	testenv.WaitFor(t, 5e9, "scheduled match refused as not live", func() bool {
		return st.post(t, matchEvent("final")).status == http.StatusConflict
	})
	wantError(t, st.post(t, matchEvent("final")), 409, wire.CodeMatchNotLive, 0)
	if r := st.admin(t, "POST", "/v1/admin/matches/final/start", testAdminToken, ""); r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	testenv.WaitFor(t, 5e9, "live match admitted", func() bool { return st.post(t, matchEvent("final")).status == http.StatusAccepted })
	afterOne := st.k.EndOffsets(t)
	if sum(afterOne)-sum(before) != 1 {
		t.Fatalf("%d records written, want only the admitted one", sum(afterOne)-sum(before))
	}
	batch := "[" + strings.Join([]string{matchEvent("final"), matchEvent("final"), matchEvent("final"), matchEvent("other"), matchEvent("final")}, ",") + "]"
	wantError(t, st.post(t, batch), 404, wire.CodeUnknownMatch, 3)
	if r := st.admin(t, "POST", "/v1/admin/matches/final/end", testAdminToken, ""); r.status != 200 {
		t.Fatalf("end: %d %s", r.status, r.body)
	}
	testenv.WaitFor(t, 5e9, "end seen", func() bool { return reg.Admit("final") != nil })
	wantError(t, st.post(t, matchEvent("final")), 409, wire.CodeMatchNotLive, 0)
	if got := sum(st.k.EndOffsets(t)); got != sum(afterOne) {
		t.Fatalf("refused requests wrote %d records", got-sum(afterOne))
	}
}

func TestAdminAPI(t *testing.T) {
	st, reg := startWithRegistry(t, testAdminToken)
	for _, tok := range []string{"", "wrong-token-wrong-token", testAdminToken + "x"} {
		r := st.admin(t, "POST", "/v1/admin/matches", tok, `{"id":"x","state":"live"}`)
		wantError(t, r, 401, wire.CodeUnauthorized, -1)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	}
	if _, err := reg.Get(context.Background(), "x"); err == nil {
		t.Fatal("a refused admin request created a match")
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/admin/matches", `{"id":"a.b"}`, 400, wire.CodeBadField},
		{"POST", "/v1/admin/matches", `{"id":"ok","colour":"red"}`, 400, wire.CodeBadJSON},
		{"POST", "/v1/admin/matches", `{"id":"ok"} {"id":"ok2","state":"live"}`, 400, wire.CodeBadJSON},
		{"POST", "/v1/admin/matches", `{"id":"ok"}]`, 400, wire.CodeBadJSON},
		{"POST", "/v1/admin/matches", `{"id":"ok","state":"ended"}`, 400, wire.CodeBadField},
		{"POST", "/v1/admin/matches", `{"id":"m1","state":"live","title":"One"}`, 201, ""},
		{"POST", "/v1/admin/matches", `{"id":"m1"}`, 409, wire.CodeConflict},
		{"POST", "/v1/admin/matches", `{"id":"m2","planned_start":"2026-12-24T18:00:00Z"}`, 201, ""},
		{"POST", "/v1/admin/matches/m1/start", ``, 409, wire.CodeConflict},
		{"POST", "/v1/admin/matches/zz/start", ``, 404, wire.CodeUnknownMatch},
		{"GET", "/v1/admin/matches/m2", ``, 200, ""},
		{"DELETE", "/v1/admin/matches/m2", ``, 204, ""},
		{"GET", "/v1/admin/matches/m2", ``, 404, wire.CodeUnknownMatch},
	} {
		r := st.admin(t, c.method, c.path, testAdminToken, c.body)
		if c.code != "" {
			wantError(t, r, c.status, c.code, -1)
		} else if r.status != c.status {
			t.Fatalf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, r.status, r.body, c.status)
		}
	}
	// The scheme is case-insensitive (RFC 9110 11.1), as for POST /v1/emojis.
	req, _ := http.NewRequest(http.MethodGet, st.ops+"/v1/admin/matches", nil)
	req.Header.Set("Authorization", "bearer "+testAdminToken)
	if r := st.send(t, req); r.status != 200 {
		t.Errorf("the right token with scheme \"bearer\": %d %s, want 200", r.status, r.body)
	}
	r := st.admin(t, "GET", "/v1/admin/matches", testAdminToken, "")
	list := decodeJSON[struct{ Matches []registry.Match }](t, r.body)
	if len(list.Matches) != 1 || list.Matches[0].ID != "m1" || list.Matches[0].State != registry.Live {
		t.Fatalf("admin list: %s", r.body)
	}
	testenv.WaitFor(t, 5e9, "public list", func() bool {
		r := st.do(t, "GET", "/v1/matches", "", nil)
		var got []string
		for _, m := range decodeJSON[struct{ Matches []registry.Match }](t, r.body).Matches {
			got = append(got, m.ID+":"+string(m.State))
		}
		return slices.Equal(got, []string{"m1:live"})
	})
}

// TestAdminOff: without a token the admin API does not exist.
func TestAdminOff(t *testing.T) {
	st, _ := startWithRegistry(t, "")
	wantError(t, st.admin(t, "POST", "/v1/admin/matches", testAdminToken, `{"id":"x"}`), 404, wire.CodeNotFound, -1)
	if _, err := ingest.New(ingest.Config{AdminToken: "short", Matches: nil}); err == nil {
		t.Fatal("a short admin token without a registry was accepted")
	}
}

// countingRegistry counts the admissions ingest asks a real registry for.
type countingRegistry struct {
	*registry.Registry
	admits atomic.Int64
}

func (c *countingRegistry) Admit(id string) error {
	c.admits.Add(1)
	return c.Registry.Admit(id)
}

// TestAdmitOncePerMatch: a request asks the registry once per distinct
// match among its first eight, and still names the first event of a match
// that is refused.
func TestAdmitOncePerMatch(t *testing.T) {
	reg, _ := runRegistry(t, registry.Config{AutoMatches: 100})
	c := &countingRegistry{Registry: reg}
	st := startIngest(t, testenv.StartKafka(t, 4).Target(), ingest.Config{Matches: c})
	sent := 0
	array := func(matches ...string) string {
		evs := make([]string, len(matches))
		for i, m := range matches {
			sent++ // a user per event, clear of the per-user rate limit
			evs[i] = fmt.Sprintf(`{"user_id":"u-%d","match_id":%q,"emoji_type":"🔥"}`, sent, m)
		}
		return "[" + strings.Join(evs, ",") + "]"
	}
	var four, twenty []string
	for i := range 100 {
		four = append(four, fmt.Sprintf("m%d", i%4))
	}
	for i := range 40 {
		twenty = append(twenty, fmt.Sprintf("m%d", i%20))
	}
	for _, tc := range []struct {
		name    string
		matches []string
		admits  int64
	}{
		{"100 events of 4 matches, interleaved", four, 4},
		{"20 matches twice: the first 8 remembered", twenty, 20 + 12},
	} {
		testenv.WaitFor(t, 10*time.Second, "the matches auto-admitted", func() bool {
			return st.post(t, array(tc.matches...)).status == http.StatusAccepted
		})
		c.admits.Store(0)
		if r := st.post(t, array(tc.matches...)); r.status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
		}
		if got := c.admits.Load(); got != tc.admits {
			t.Errorf("%s: %d admissions asked, want %d", tc.name, got, tc.admits)
		}
	}
	if _, err := reg.Create(context.Background(), registry.Match{ID: "later", Title: "Later", Home: "A", Away: "B"}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the scheduled match seen", func() bool { return reg.Admit("later") != nil })
	wantError(t, st.post(t, array("m0", "m1", "m0", "m1", "later", "m0")), 409, wire.CodeMatchNotLive, 4)
}
