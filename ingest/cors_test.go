package ingest_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

func (st *stack) request(t *testing.T, base, method, path string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(`{"match_id":"final","user_id":"u","emoji_type":"🔥"}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return st.send(t, req)
}

// TestOpsListener: metrics and the admin API are on the ops listener only;
// health is on both; the ops listener answers no browser.
func TestOpsListener(t *testing.T) {
	st, _ := startWithRegistry(t, testAdminToken)
	tests := []struct {
		name, base, method, path string
		header                   []string
		status                   int
	}{
		{"metrics not public", st.url, "GET", "/metrics", nil, 404},
		{"admin not public", st.url, "GET", "/v1/admin/matches", []string{"Authorization", "Bearer " + testAdminToken}, 404},
		{"healthz public", st.url, "GET", "/healthz", nil, 200},
		{"readyz public", st.url, "GET", "/readyz", nil, 200},
		{"matches public", st.url, "GET", "/v1/matches", nil, 200},
		{"metrics on ops", st.ops, "GET", "/metrics", nil, 200},
		{"healthz on ops", st.ops, "GET", "/healthz", nil, 200},
		{"readyz on ops", st.ops, "GET", "/readyz", nil, 200},
		{"admin on ops", st.ops, "GET", "/v1/admin/matches", []string{"Authorization", "Bearer " + testAdminToken}, 200},
		{"admin on ops without token", st.ops, "GET", "/v1/admin/matches", nil, 401},
		{"API not on ops", st.ops, "POST", "/v1/emojis", []string{"Content-Type", "application/json"}, 404},
		{"admin from a page", st.ops, "GET", "/v1/admin/matches", []string{"Authorization", "Bearer " + testAdminToken, "Origin", "http://" + strings.TrimPrefix(st.ops, "http://")}, 403},
		{"admin preflight", st.ops, "OPTIONS", "/v1/admin/matches", []string{"Origin", "http://evil.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization"}, 403},
		{"metrics from a page", st.ops, "GET", "/metrics", []string{"Origin", "http://evil.example"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.request(t, tt.base, tt.method, tt.path, tt.header...)
			if r.status != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.status)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("CORS answered: %v", r.header)
			}
		})
	}
}

// TestCORS: preflights and cross-origin requests are answered for the
// page's own origin and the allowed ones, and refused (nothing stored) for
// every other.
func TestCORS(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	st := startIngest(t, k, ingest.Config{CORSOrigins: []string{"http://app.example"}})
	self := st.url // the page's own origin
	post := []string{"Content-Type", "application/json"}
	tests := []struct {
		name, method, path string
		header             []string
		status             int
		acao               string
	}{
		{"preflight from an allowed origin", "OPTIONS", "/v1/emojis", []string{"Origin", "http://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type"}, 204, "http://app.example"},
		{"preflight from another origin", "OPTIONS", "/v1/emojis", []string{"Origin", "http://evil.example", "Access-Control-Request-Method", "POST"}, 403, ""},
		{"preflight from another port", "OPTIONS", "/v1/emojis", []string{"Origin", "http://127.0.0.1:1", "Access-Control-Request-Method", "POST"}, 403, ""},
		{"plain OPTIONS", "OPTIONS", "/v1/emojis", nil, 204, ""},
		{"POST from an allowed origin", "POST", "/v1/emojis", append([]string{"Origin", "http://app.example"}, post...), 202, "http://app.example"},
		{"POST from the page's origin", "POST", "/v1/emojis", append([]string{"Origin", self}, post...), 202, ""},
		{"POST from another origin", "POST", "/v1/emojis", append([]string{"Origin", "http://evil.example"}, post...), 403, ""},
		{"text/plain POST from another origin", "POST", "/v1/emojis", []string{"Origin", "http://evil.example", "Content-Type", "text/plain"}, 403, ""},
		{"POST from a sandboxed page", "POST", "/v1/emojis", append([]string{"Origin", "null"}, post...), 403, ""},
		{"config from an allowed origin", "GET", "/v1/config", []string{"Origin", "http://app.example"}, 200, "http://app.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := k.EndOffsets(t)
			r := st.request(t, st.url, tt.method, tt.path, tt.header...)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tt.acao {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.acao)
			}
			if tt.status == 403 {
				checkError(t, r, 403, wire.CodeForbidden, -1)
				if after := k.EndOffsets(t); !slices.Equal(before, after) {
					t.Errorf("end offsets moved from %v to %v", before, after)
				}
			}
			if tt.status == 204 && tt.acao != "" && !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("preflight headers: %v", r.header)
			}
		})
	}
}

// TestSecurityHeaders: the pages and the API carry the CSP and friends;
// the player page may play media from the video origins (and MSE's blob:).
func TestSecurityHeaders(t *testing.T) {
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{WebSocketURLs: []string{"ws://127.0.0.1:9222", "wss://leaf.example/ws"},
		VideoOrigins: []string{"https://cdn.example", "http://127.0.0.1:8090"}})
	for _, path := range []string{"/", "/app.js", "/player.html", "/v1/config"} {
		r := st.do(t, http.MethodGet, path, "", nil)
		want := map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
				"media-src 'self' blob: https://cdn.example http://127.0.0.1:8090; " +
				"connect-src 'self' ws://127.0.0.1:9222 wss://leaf.example https://cdn.example http://127.0.0.1:8090; " +
				"base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		}
		for h, v := range want {
			if got := r.header.Get(h); got != v {
				t.Errorf("GET %s: %s %q, want %q", path, h, got, v)
			}
		}
	}
}

// TestSessions: off by default; when on, a rate-limited source of tokens
// that POST /v1/emojis accepts.
func TestSessions(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	off := startIngest(t, k, ingest.Config{})
	checkError(t, off.request(t, off.url, "POST", "/v1/session"), 404, wire.CodeNotFound, -1)

	st := startIngest(t, k, ingest.Config{Session: ingest.SessionConfig{Enabled: true, Rate: 0.001, Burst: 2}})
	if r := st.do(t, http.MethodGet, "/v1/config", "", nil); !strings.Contains(string(r.body), `"auth":"jwt","sessions":true`) {
		t.Errorf("/v1/config: %s", r.body)
	}
	checkError(t, st.postAs(t, "", `{"match_id":"final","emoji_type":"🔥"}`), 401, wire.CodeUnauthorized, -1)
	var users []string
	for i := range 2 {
		r := st.request(t, st.url, "POST", "/v1/session")
		if r.status != 200 {
			t.Fatalf("session %d: %d %s", i, r.status, r.body)
		}
		var s struct {
			Token  string `json:"token"`
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(r.body, &s); err != nil {
			t.Fatal(err)
		}
		before := k.EndOffsets(t)
		if r := st.postAs(t, s.Token, `{"match_id":"final","emoji_type":"🔥"}`); r.status != 202 {
			t.Fatalf("with the session token: %d %s", r.status, r.body)
		}
		msgs := readRange(t, k, before, k.EndOffsets(t))
		if len(msgs) != 1 || string(msgs[0].Key) != s.UserID {
			t.Errorf("stored %d records, key %q, want one of %q", len(msgs), msgs[0].Key, s.UserID)
		}
		users = append(users, s.UserID)
	}
	if users[0] == users[1] {
		t.Errorf("two sessions share user %q", users[0])
	}
	r := st.request(t, st.url, "POST", "/v1/session")
	checkError(t, r, 429, wire.CodeRateLimited, -1)
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	checkError(t, st.request(t, st.url, "POST", "/v1/session", "Origin", "http://evil.example"), 403, wire.CodeForbidden, -1)
}

// TestOptionsAnnouncesWhatIsServed: OPTIONS without Origin answers 204
// with Allow on every public path the API serves (the timeline's
// included) and announces none it does not serve (POST /v1/session with
// sessions off, /v1/matches without a registry).
func TestOptionsAnnouncesWhatIsServed(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	env := registrytest.Start(t, "final")
	st := startIngest(t, k, ingest.Config{Matches: env.Registry, Timeline: timeline.NewReader(env.NC, wire.TimelineStream, 0)})
	for path, allow := range map[string]string{"/v1/emojis": "POST, OPTIONS", "/v1/matches": "GET, HEAD, OPTIONS",
		"/v1/matches/final/timeline": "GET, HEAD, OPTIONS", "/readyz": "GET, HEAD, OPTIONS"} {
		if r := st.do(t, http.MethodOptions, path, "", nil); r.status != 204 || r.header.Get("Allow") != allow {
			t.Errorf("OPTIONS %s: %d Allow %q %s, want 204 Allow %q", path, r.status, r.header.Get("Allow"), r.body, allow)
		}
	}
	preflight := []string{"Origin", st.url, "Access-Control-Request-Method", "GET"}
	if r := st.request(t, st.url, http.MethodOptions, "/v1/matches/final/timeline", preflight...); r.status != 204 {
		t.Errorf("preflight of the timeline from the page's origin: %d %s, want 204", r.status, r.body)
	}
	for _, path := range []string{"/v1/session", "/v1/matches/final/timeline/x", "/v1/matches//timeline"} {
		if r := st.do(t, http.MethodOptions, path, "", nil); r.status == 204 {
			t.Errorf("OPTIONS %s: 204 Allow %q, for a path not served", path, r.header.Get("Allow"))
		}
	}
	bare := startIngest(t, k, ingest.Config{})
	for _, path := range []string{"/v1/matches", "/v1/matches/final/timeline", "/v1/session"} {
		if r := bare.do(t, http.MethodOptions, path, "", nil); r.status == 204 {
			t.Errorf("no registry, no sessions: OPTIONS %s: 204 Allow %q", path, r.header.Get("Allow"))
		}
	}
}
