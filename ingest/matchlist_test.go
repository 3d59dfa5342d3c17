package ingest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// listAnswer is the body of GET /v1/matches.
type listAnswer struct {
	Matches []struct {
		ID           string         `json:"id"`
		State        registry.State `json:"state"`
		Title        string         `json:"title"`
		Home         string         `json:"home"`
		Away         string         `json:"away"`
		PlannedStart *time.Time     `json:"planned_start"`
		Auto         bool           `json:"auto"`
	} `json:"matches"`
	NextCursor string `json:"next_cursor"`
}

func (a listAnswer) ids() []string {
	var ids []string
	for _, m := range a.Matches {
		ids = append(ids, m.ID)
	}
	return ids
}

// list is GET /v1/matches?query, which must answer 200.
func (st *stack) list(t *testing.T, query string) listAnswer {
	t.Helper()
	r := st.do(t, http.MethodGet, "/v1/matches?"+query, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/matches?%s: %d %s", query, r.status, r.body)
	}
	return decodeJSON[listAnswer](t, r.body)
}

// listAll follows the cursors of pages of limit, and returns every id.
func (st *stack) listAll(t *testing.T, query string, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; pages < 1000; pages++ {
		a := st.list(t, fmt.Sprintf("%s&limit=%d&cursor=%s", query, limit, url.QueryEscape(cursor)))
		ids = append(ids, a.ids()...)
		if cursor = a.NextCursor; cursor == "" {
			return ids
		}
	}
	t.Fatal("more than 1000 pages")
	return nil
}

// listRegistry is a registry with 4 operator matches ("zz-final" live,
// two scheduled, one ended) and 210 auto-admitted live ones whose ids
// sort before the operator's, loaded.
func listRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	reg, _ := runRegistry(t, registry.Config{AutoMatches: 300})
	testenv.WaitFor(t, 10*time.Second, "registry loaded", func() bool { return reg.Ready() == nil })
	ctx := context.Background()
	planned := time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)
	for _, m := range []registry.Match{{ID: "zz-final", State: registry.Live, Title: "The final"},
		{ID: "sched-2", PlannedStart: &planned}, {ID: "sched-1"}, {ID: "old", State: registry.Live}} {
		if _, err := reg.Create(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.End(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	for i := range 210 {
		if err := reg.Admit(fmt.Sprintf("a-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "214 matches loaded", func() bool {
		m, _ := reg.Snapshot().Lookup("old")
		return reg.Snapshot().Len() == 214 && m.State == registry.Ended
	})
	return reg
}

// TestMatchList: operator matches list before auto-admitted ones, however
// many of those there are; filters; pages that add up to the whole list;
// cursors that stay right across registry changes.
func TestMatchList(t *testing.T) {
	reg := listRegistry(t)
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: reg, MatchesRate: -1})
	autos := func(from, to int) []string {
		var ids []string
		for i := from; i < to; i++ {
			ids = append(ids, fmt.Sprintf("a-%03d", i))
		}
		return ids
	}
	first := st.list(t, "")
	want := append([]string{"zz-final", "sched-1", "sched-2"}, autos(0, 197)...)
	if got := first.ids(); strings.Join(got, " ") != strings.Join(want, " ") || first.NextCursor == "" {
		t.Fatalf("first page: %v (next %q), want %v", got, first.NextCursor, want)
	}
	if m := first.Matches; m[0].Title != "The final" || m[0].Auto || !m[3].Auto || m[3].State != registry.Live {
		t.Errorf("entries: %+v", m[:4])
	}
	all := append([]string{"zz-final", "sched-1", "sched-2"}, autos(0, 210)...)
	for _, limit := range []int{1, 7, 200, 1000} {
		if got := st.listAll(t, "", limit); strings.Join(got, " ") != strings.Join(all, " ") {
			t.Errorf("pages of %d: %d ids %v, want %d", limit, len(got), got, len(all))
		}
	}
	for state, want := range map[string][]string{"ended": {"old"}, "scheduled": {"sched-1", "sched-2"},
		"live": append([]string{"zz-final"}, autos(0, 210)...)} {
		if got := st.listAll(t, "state="+state, 50); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("state=%s: %v, want %v", state, got, want)
		}
	}
	// A cursor names a place in the order, not an index: after changes
	// before and at it, the next page starts right after it.
	page := st.list(t, "limit=4")
	ctx := context.Background()
	if _, err := reg.Create(ctx, registry.Match{ID: "aa-new", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a-000", "a-001"} {
		if _, err := reg.End(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "changes loaded", func() bool {
		m, _ := reg.Snapshot().Lookup("a-001")
		return m.State == registry.Ended
	})
	if got := st.list(t, "limit=2&cursor="+page.NextCursor).ids(); strings.Join(got, " ") != "a-002 a-003" {
		t.Errorf("the page after %v once the registry changed: %v, want a-002 a-003", page.ids(), got)
	}
}

// TestMatchListEncodedOnce: a registry revision is encoded once, whatever
// the requests; a page holds at most MaxMatchesPageBytes of matches, and
// takes a token of the rate limit per MatchesTokenBytes.
func TestMatchListEncodedOnce(t *testing.T) {
	reg, _ := runRegistry(t, registry.Config{})
	// Titles and teams of '<', which JSON writes as 6 bytes each: about
	// 2.5 KiB per match, so 120 of them pass MaxMatchesPageBytes.
	for i := range 120 {
		m := registry.Match{ID: fmt.Sprintf("m-%03d", i), State: registry.Live, Title: strings.Repeat("<", registry.MaxTitle),
			Home: strings.Repeat("<", registry.MaxTeam), Away: strings.Repeat("<", registry.MaxTeam)}
		if _, err := reg.Create(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	kafka := testenv.StartKafka(t, 1).Target()
	st := startIngest(t, kafka, ingest.Config{Matches: reg, MatchesRate: -1})
	testenv.WaitFor(t, 10*time.Second, "120 matches loaded", func() bool { return reg.Snapshot().Len() == 120 })
	// A page of about 256 KiB takes 1 + 7 or 8 tokens of the rate limit,
	// a page of one match 1: with 20, two big pages pass, the third does
	// not (its first token is spent), and 1 to 3 small pages still pass.
	lim := startIngest(t, kafka, ingest.Config{Matches: reg, MatchesRate: 0.001, MatchesBurst: 20})
	for i, want := range []int{200, 200, 429} {
		if r := lim.do(t, http.MethodGet, "/v1/matches?limit=1000", "", nil); r.status != want {
			t.Errorf("big page %d: %d %.100s, want %d", i, r.status, r.body, want)
		}
	}
	small := 0
	for ; small < 5 && lim.do(t, http.MethodGet, "/v1/matches?limit=1", "", nil).status == 200; small++ {
	}
	if small < 1 || small > 3 {
		t.Errorf("%d small pages passed after two big ones, want 1 to 3", small)
	}
	encodes := func() float64 { return metric(t, http.DefaultClient, st, "emostream_ingest_match_list_encodes_total") }
	before := encodes()
	for _, q := range []string{"", "limit=1000", "state=live", "state=ended", "limit=3", "limit=1"} {
		r := st.do(t, http.MethodGet, "/v1/matches?"+q, "", nil)
		a := decodeJSON[listAnswer](t, r.body)
		if q == "limit=1000" && (len(r.body) > ingest.MaxMatchesPageBytes+200 || a.NextCursor == "" || len(a.Matches) >= 120) {
			t.Errorf("a page of 1,000 large matches: %d bytes, %d matches, next %q", len(r.body), len(a.Matches), a.NextCursor)
		}
	}
	if got := encodes() - before; got > 1 {
		t.Errorf("one registry revision encoded %v times", got)
	}
	if got := st.listAll(t, "", 1000); len(got) != 120 {
		t.Errorf("pages of large matches add up to %d, want 120", len(got))
	}
	if _, err := reg.End(context.Background(), "m-000"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "a new revision encoded", func() bool {
		return len(st.list(t, "state=ended").Matches) == 1
	})
	if got := encodes() - before; got != 2 {
		t.Errorf("two registry revisions encoded %v times", got)
	}
}

// TestMatchListRefusals: bad parameters are 400 bad_matches_query; past
// the rate of a client network, 429 with Retry-After, other networks
// unaffected.
func TestMatchListRefusals(t *testing.T) {
	reg, _ := runRegistry(t, registry.Config{})
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: reg, MatchesRate: 0.01, MatchesBurst: 20, IPPrefixV4: 32})
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, q := range []string{"state=over", "state=LIVE", "limit=0", "limit=-1", "limit=1001", "limit=ten", "limit=1e3",
		"cursor=%%%", "cursor=" + b64("x"), "cursor=" + b64("2.0.0.0.a"), "cursor=" + b64("0.3.0.0.a"),
		"cursor=" + b64("0.0.0.1000000000.a"), "cursor=" + b64("0.0.0.0.a.b"), "cursor=" + b64("0.0.x.0.a"),
		"cursor=" + strings.Repeat("A", 300)} {
		r := st.do(t, http.MethodGet, "/v1/matches?"+q, "", nil)
		wantError(t, r, http.StatusBadRequest, wire.CodeBadMatchesQuery, -1)
	}
	for i := range 6 {
		r := st.do(t, http.MethodGet, "/v1/matches", "", nil)
		if i < 5 && r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		if i == 5 {
			wantError(t, r, http.StatusTooManyRequests, wire.CodeRateLimited, -1)
			if r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if r := getFrom(t, st, "127.0.0.2", "/v1/matches"); r.status != http.StatusOK {
		t.Errorf("another network: %d %s", r.status, r.body)
	}
}

// getFrom is GET path from the loopback address local.
func getFrom(t *testing.T, st *stack, local, path string) reply {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	res, err := client.Get(st.url + path)
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("cannot bind %s on this system: %v", local, err)
		}
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}
