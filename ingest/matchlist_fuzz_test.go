package ingest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// FuzzMatchList drives GET /v1/matches through the real server with any
// state, limit and cursor (URL-encoded): it never panics; it answers 200
// with a page of at most the limit (and MaxMatchesPageBytes) whose
// next_cursor, if any, is itself a good cursor, or 400 bad_matches_query.
//
//	go test -run '^$' -fuzz FuzzMatchList -fuzztime 1m ./ingest/
func FuzzMatchList(f *testing.F) {
	b64 := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	for _, seed := range [][3]string{
		{"", "", ""}, {"live", "", ""}, {"scheduled", "1", ""}, {"ended", "1000", ""}, {"LIVE", "", ""},
		{"\xff", "", ""}, {"live\x00", "", ""}, {"", "1001", ""}, {"", "0", ""}, {"", "-1", ""}, {"", "1.5", ""},
		{"", "1e3", ""}, {"", strconv.FormatInt(math.MaxInt64, 10), ""}, {"", strconv.FormatInt(math.MinInt64, 10), ""},
		{"", "99999999999999999999", ""}, {"", "", "%00"}, {"", "", "===="}, {"", "", string(make([]byte, 300))},
		{"", "", b64("0.0.-62167219200.0.a-010")},                      // year 0
		{"", "", b64("1.1.253402300799.999999999.zz")},                 // year 9999
		{"", "", b64(fmt.Sprintf("0.2.%d.0.m", int64(math.MaxInt64)))}, // the edges of int64
		{"", "", b64(fmt.Sprintf("1.0.%d.0.m", int64(math.MinInt64)))},
		{"", "", b64("0.0.0.-1.m")}, {"", "", b64("0.0.0.0.m.n")}, {"", "", b64("0.0.0.0.")}, {"", "", b64("0.0.0.0.\xff")},
		{"live", "3", b64("1.0.-62135596800.0.a-100")},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	reg := listRegistry(f)
	st := startIngest(f, testenv.StartKafka(f, 1).Target(), ingest.Config{Matches: reg, MatchesRate: -1})
	h := st.srv.Handler()
	get := func(q url.Values) (int, []byte) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodGet)
		ctx.Request.SetRequestURI("/v1/matches?" + q.Encode())
		h(&ctx)
		return ctx.Response.StatusCode(), ctx.Response.Body()
	}
	f.Fuzz(func(t *testing.T, state, limit, cursor string) {
		q := url.Values{}
		for k, v := range map[string]string{"state": state, "limit": limit, "cursor": cursor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		status, body := get(q)
		switch status {
		case fasthttp.StatusOK:
			checkPage(t, q, body, get)
		case fasthttp.StatusBadRequest:
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != wire.CodeBadMatchesQuery || e.Error.Message == "" {
				t.Fatalf("400 %s for %v", body, q)
			}
		default:
			t.Fatalf("status %d (%s) for %v", status, body, q)
		}
	})
}

// checkPage checks a 200 answer to q, and the page its cursor names.
func checkPage(t *testing.T, q url.Values, body []byte, get func(url.Values) (int, []byte)) {
	var a listAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("200 with bad JSON for %v: %v", q, err)
	}
	limit := ingest.DefaultMatchesLimit
	if l, err := strconv.Atoi(q.Get("limit")); err == nil {
		limit = l
	}
	if len(a.Matches) > limit || len(body) > ingest.MaxMatchesPageBytes+512 {
		t.Fatalf("%v: %d matches in %d bytes", q, len(a.Matches), len(body))
	}
	if a.NextCursor != "" {
		q.Set("cursor", a.NextCursor)
		if status, next := get(q); status != fasthttp.StatusOK {
			t.Fatalf("%v: its next_cursor answers %d %s", q, status, next)
		}
	}
}
