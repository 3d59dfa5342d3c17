package ingest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestRejections posts every kind of bad request over real HTTP and checks
// its status, its error code and index, and that Kafka received nothing.
func TestRejections(t *testing.T) {
	k := testenv.StartKafka(t, 4).Target()
	st := startIngest(t, k, ingest.Config{BodyLimit: 80 << 10, UserRate: -1, IPRate: -1})
	good := event("u-1", "final-2026", "🔥")
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
		index                   int // -1: no index
	}{
		{"bad json", "application/json", `{"user_id" "u"}`, 400, wire.CodeBadJSON, 0},
		{"empty body", "application/json", ``, 400, wire.CodeBadJSON, -1},
		{"not an object", "application/json", `"🔥"`, 400, wire.CodeBadJSON, -1},
		{"trailing data", "application/json", good + `x`, 400, wire.CodeBadJSON, -1},
		{"unknown field", "application/json", `{"user_id":"u","match_id":"m","emoji_type":"🔥","extra":1}`, 400, wire.CodeBadField, 0},
		{"duplicate field", "application/json", `{"user_id":"u","user_id":"v","match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField, 0},
		{"unknown emoji", "application/json", event("u", "m", "🐍"), 400, wire.CodeUnknownEmoji, 0},
		{"bad match_id", "application/json", event("u", "final 2026", "🔥"), 400, wire.CodeBadField, 0},
		{"long match_id", "application/json", event("u", strings.Repeat("m", 65), "🔥"), 400, wire.CodeBadField, 0},
		{"empty user", "application/json", event("", "m", "🔥"), 400, wire.CodeBadField, 0},
		{"long user", "application/json", event(strings.Repeat("u", 129), "m", "🔥"), 400, wire.CodeBadField, 0},
		{"missing emoji", "application/json", `{"user_id":"u","match_id":"m"}`, 400, wire.CodeBadField, 0},
		{"user not a string", "application/json", `{"user_id":1,"match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField, 0},
		{"bad timestamp", "application/json", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":"yesterday"}`, 400, wire.CodeBadField, 0},
		{"long event_id", "application/json", `{"user_id":"u","match_id":"m","emoji_type":"🔥","event_id":"` + strings.Repeat("e", 65) + `"}`, 400, wire.CodeBadField, 0},
		{"bad third event", "application/json", "[" + good + "," + good + "," + event("u", "m", "🐍") + "]", 400, wire.CodeUnknownEmoji, 2},
		{"empty array", "application/json", `[]`, 400, wire.CodeTooManyEvents, -1},
		{"1001 events", "application/json", batch(1001, func(int) string { return "u" }), 400, wire.CodeTooManyEvents, 1000},
		{"text/plain", "text/plain", good, 415, wire.CodeUnsupportedMedia, -1},
		{"no content type", "", good, 415, wire.CodeUnsupportedMedia, -1},
		{"latin1 charset", "application/json; charset=latin1", good, 415, wire.CodeUnsupportedMedia, -1},
	}
	before := k.EndOffsets(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.do(t, http.MethodPost, "/v1/emojis", tt.contentType, strings.NewReader(tt.body))
			checkError(t, r, tt.status, tt.code, tt.index)
		})
	}
	// An oversized body is announced by its headers alone: sending it would
	// race the server's early close into a reset (announceOversized).
	if status, code := announceOversized(t, st.url, 2000*len(good)); status != 413 || code != wire.CodeBodyTooLarge {
		t.Errorf("oversized body: %d %s, want 413 %s", status, code, wire.CodeBodyTooLarge)
	}
	if after := k.EndOffsets(t); !slices.Equal(before, after) {
		t.Errorf("kafka end offsets moved from %v to %v", before, after)
	}
}

func checkError(t *testing.T, r reply, status int, code string, index int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	e := decodeJSON[apiError](t, r.body)
	switch {
	case e.Error.Code != code:
		t.Errorf("code %q, want %q (%s)", e.Error.Code, code, e.Error.Message)
	case e.Error.Message == "":
		t.Errorf("no message")
	case index < 0 && e.Error.Index != nil:
		t.Errorf("index %d, want none", *e.Error.Index)
	case index >= 0 && (e.Error.Index == nil || *e.Error.Index != index):
		t.Errorf("index %v, want %d", e.Error.Index, index)
	}
}

// TestBodyLimitChunked sends an oversized body without Content-Length.
func TestBodyLimitChunked(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	st := startIngest(t, k, ingest.Config{BodyLimit: 1 << 10})
	body := hideLen(bytes.Repeat([]byte(" "), 4<<10))
	r := st.do(t, http.MethodPost, "/v1/emojis", "application/json", body)
	checkError(t, r, 413, wire.CodeBodyTooLarge, -1)
}

// hideLen hides the length of b, so net/http sends it chunked.
func hideLen(b []byte) *struct{ *bytes.Reader } { return &struct{ *bytes.Reader }{bytes.NewReader(b)} }

// TestAccepted checks the success cases the decoder allows.
func TestAccepted(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	st := startIngest(t, k, ingest.Config{})
	tests := []struct {
		name, contentType, body string
		n                       int
	}{
		{"one event", "application/json", event("u-1", "m", "🔥"), 1},
		{"charset", "application/json; charset=UTF-8", event("u-2", "m", "🔥"), 1},
		{"array", "application/json", batch(3, func(i int) string { return "u-3" }), 3},
		{"unnormalised emoji", "application/json", event("u-4", "m", "❤"), 1},
		{"timestamp and event_id", "application/json", `{"user_id":"u-5","match_id":"m","emoji_type":"👍","timestamp":"2026-11-23T05:00:00.123Z","event_id":"e-1"}`, 1},
		{"unix ms timestamp", "application/json", `{"user_id":"u-6","match_id":"m","emoji_type":"👍","timestamp":1795410000123}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.do(t, http.MethodPost, "/v1/emojis", tt.contentType, strings.NewReader(tt.body))
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := decodeJSON[accepted](t, r.body); got.Accepted != tt.n || len(got.Windows) != 1 {
				t.Errorf("reply %+v, want %d accepted in one window", got, tt.n)
			}
		})
	}
}

// TestOtherRoutes checks the GET endpoints and the JSON 404 and 405.
func TestOtherRoutes(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	st := startIngest(t, k, ingest.Config{Emojis: []string{"🔥", "👏"}, WebSocketURLs: []string{"ws://127.0.0.1:9222"}})
	r := st.do(t, http.MethodGet, "/v1/emoji-types", "", nil)
	if r.status != 200 || string(r.body) != `{"emoji_types":["🔥","👏"]}` {
		t.Errorf("emoji-types: %d %s", r.status, r.body)
	}
	r = st.do(t, http.MethodGet, "/v1/config", "", nil)
	if want := `{"ws_urls":["ws://127.0.0.1:9222"],"window_ms":2000,"swarm_threshold":1000,"emoji_types":["🔥","👏"],` +
		`"limits":{"max_events":1000,"user_rate":20,"user_burst":100,"ip_rate":10000,"ip_burst":20000}}`; string(r.body) != want {
		t.Errorf("config: %s, want %s", r.body, want)
	}
	for _, path := range []string{"/healthz", "/readyz", "/", "/index.html"} {
		if r := st.do(t, http.MethodGet, path, "", nil); r.status != 200 {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	st.post(t, event("u", "m", "🔥"))
	r = st.doAt(t, st.ops, http.MethodGet, "/metrics", "", nil)
	if !bytes.Contains(r.body, []byte("emostream_ingest_events_accepted_total 1")) {
		t.Errorf("metrics lack the accepted event:\n%s", r.body)
	}
	checkError(t, st.do(t, http.MethodGet, "/nope", "", nil), 404, wire.CodeNotFound, -1)
	r = st.do(t, http.MethodGet, "/v1/emojis", "", nil)
	checkError(t, r, 405, wire.CodeMethodNotAllowed, -1)
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
}

// TestTrustedProxy limits by the X-Forwarded-For client only when the peer
// is a configured proxy.
func TestTrustedProxy(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	postFrom := func(st *stack, xff string) int {
		req, _ := http.NewRequest(http.MethodPost, st.url+"/v1/emojis", strings.NewReader(batch(2, func(i int) string { return xff + string(rune('a'+i)) })))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	trusting := startIngest(t, k, ingest.Config{IPRate: 0.001, IPBurst: 2, UserRate: -1, TrustedProxies: mustCIDRs(t, "127.0.0.0/8")})
	if a, b, c := postFrom(trusting, "1.1.1.1"), postFrom(trusting, "1.1.1.1"), postFrom(trusting, "2.2.2.2"); a != 202 || b != 429 || c != 202 {
		t.Errorf("trusting proxy: statuses %d %d %d, want 202 429 202", a, b, c)
	}
	// A proxy may add an X-Forwarded-For line of its own rather than extend
	// the client's (HAProxy's option forwardfor): the client's line comes
	// first and must not pick the address it is limited by.
	postLines := func(i int) int {
		req, _ := http.NewRequest(http.MethodPost, trusting.url+"/v1/emojis",
			strings.NewReader(batch(2, func(j int) string { return fmt.Sprintf("lines%d-%d", i, j) })))
		req.Header.Set("Content-Type", "application/json")
		req.Header["X-Forwarded-For"] = []string{fmt.Sprintf("10.%d.0.1", i), "198.51.100.7"} // the client's line, the proxy's
		return trusting.send(t, req).status
	}
	if a, b, c := postLines(0), postLines(1), postLines(2); a != 202 || b != 429 || c != 429 {
		t.Errorf("one client forging the first of two X-Forwarded-For lines: statuses %d %d %d, want 202 429 429", a, b, c)
	}
	plain := startIngest(t, k, ingest.Config{IPRate: 0.001, IPBurst: 2, UserRate: -1})
	if a, b := postFrom(plain, "1.1.1.1"), postFrom(plain, "2.2.2.2"); a != 202 || b != 429 {
		t.Errorf("no trusted proxy: statuses %d %d, want 202 429", a, b)
	}
}

func mustCIDRs(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ingest.ParseCIDRs(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
