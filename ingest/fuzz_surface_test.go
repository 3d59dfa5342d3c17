package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// The fuzz targets of the public surface drive the real server's fiber
// apps (Server.Handler, Server.OpsHandler) with requests built from the
// fuzzer's input, one server per target in front of a real Kafka broker and
// a real NATS server with the streams, the registry (match "final", live)
// and timeline records. Each checks what the answer promises: a status of
// the endpoint's table, a JSON error from the code table, never a 5xx.

// startFuzzServer starts the server of one fuzz target with cfg, the
// registry and the timeline filled in; the timeline holds a match's
// windows around t0 (the start of the stored range) and a moment.
func startFuzzServer(f *testing.F, cfg ingest.Config) (*stack, int64) {
	env := registrytest.Start(f, "final")
	t0 := wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), (5 * time.Minute).Milliseconds())
	ctx := context.Background()
	put := func(subject string, v any, id string) {
		b, _ := json.Marshal(v)
		if _, err := env.JS.Publish(ctx, subject, b, jetstream.WithMsgID(id)); err != nil {
			f.Fatal(err)
		}
	}
	for i := range 40 {
		put(wire.TimelineSubject("final", wire.TimelineWindows), wire.TimelineRecord{Start: t0 + int64(i)*2000,
			Counts: map[string]int64{"🔥": int64(i + 1)}, Total: int64(i + 1), Swarm: uint64(i + 1)}, fmt.Sprint(i))
	}
	put(wire.MomentSubject("final"), wire.Moment{MatchID: "final", WindowStart: time.UnixMilli(t0 + 20_000).UTC(),
		WindowEnd: time.UnixMilli(t0 + 22_000).UTC(), Size: 50, Ratio: 4, Rule: "total"}, "m")
	cfg.Matches, cfg.Timeline = env.Registry, timeline.NewReader(env.NC, wire.TimelineStream, 0)
	cfg.TimelineRate, cfg.UserRate, cfg.IPRate = -1, -1, -1
	cfg.OpsGuard.Rate, cfg.OpsGuard.ListenerRate = -1, -1 // every input reaches the handlers (TestOpsGuard tests the limits)
	return startIngest(f, testenv.StartKafka(f, 1).Target(), cfg), t0
}

// serve runs one request through h. Header values lose CR and LF, which
// no request parsed off the wire can hold.
func serve(h fasthttp.RequestHandler, method, uri string, body []byte, header ...string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	clean := strings.NewReplacer("\r", "", "\n", "")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			ctx.Request.Header.Set(header[i], clean.Replace(header[i+1]))
		}
	}
	ctx.Request.SetBody(body)
	h(&ctx)
	return &ctx
}

// onTheWire percent-encodes what a request line cannot hold raw: control
// bytes, spaces, '#' and bytes past ASCII.
func onTheWire(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '#' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// checkError fails unless the answer is a JSON error of the code table
// with the code's status (some of fiber's own refusals keep theirs) and
// one of want.
func checkJSONError(t *testing.T, ctx *fasthttp.RequestCtx, want ...int) string {
	t.Helper()
	status, body := ctx.Response.StatusCode(), ctx.Response.Body()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d: not a JSON error: %q", status, body)
	}
	if !slices.Contains(want, status) {
		t.Fatalf("status %d %s, want one of %v", status, body, want)
	}
	return e.Error.Code
}

// FuzzTimeline drives GET /v1/matches/{id}/timeline with every parameter:
// the match, from, to, step, format and the Accept header. A 200 is a
// whole answer (JSON or CSV) whose steps lie in its range, of its step; a
// refusal is 400 bad_timeline_query or 404 unknown_match; nothing else.
func FuzzTimeline(f *testing.F) {
	st, t0 := startFuzzServer(f, ingest.Config{})
	ms := func(d time.Duration) string { return fmt.Sprint(t0 + d.Milliseconds()) }
	for _, s := range [][7]string{
		{"final", "", "", "", "", "", ""},
		{"final", ms(0), ms(time.Minute), "2s", "json", "", "named"},
		{"final", ms(0), ms(time.Minute), "2s", "json", "", "arrival"},
		{"final", ms(0), ms(time.Minute), "2s", "json", "", "video"},
		{"final", "", "", "", "", "", "Arrival"},
		{"final", ms(0), ms(5 * time.Minute), "1m", "csv", "", ""},
		{"final", "", "", "10s", "", "text/csv", ""},
		{"final", "0000-01-01T00:00:00Z", "0000-01-01T00:01:00Z", "1m", "", "", ""},
		{"final", "9999-12-31T23:00:00Z", "9999-12-31T23:59:59.999Z", "5m", "", "", ""},
		{"final", "", "9223372036854775807", "", "", "", ""},
		{"final", "-9223372036854775808", "", "", "", "", ""},
		{"final", "-1", "1.5", "", "", "", ""},
		{"final", "", "253402300799999", "2s", "", "", ""},
		{"final", "1e3", "0x10", "3s", "xml", "*/*", ""},
		{"nope", "", "", "", "", "", ""},
		{"a b", "", "", "", "", "", ""},
		{strings.Repeat("x", 65), "", "", "", "", "", ""},
		{"final", strings.Repeat("9", 5000), "", "", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	h := st.srv.Handler()
	f.Fuzz(func(t *testing.T, match, from, to, step, format, accept, by string) {
		q := url.Values{}
		for k, v := range map[string]string{"from": from, "to": to, "step": step, "format": format, "by": by} {
			if v != "" {
				q.Set(k, v)
			}
		}
		ctx := serve(h, "GET", "/v1/matches/"+url.PathEscape(match)+"/timeline?"+q.Encode(), nil, "Accept", accept)
		if ctx.Response.StatusCode() != 200 {
			switch code := checkJSONError(t, ctx, 400, 404); {
			case code == wire.CodeBadTimelineQuery && match == "final":
			case code == wire.CodeUnknownMatch && match != "final":
			case code == wire.CodeNotFound && match == "": // no such route
			default:
				t.Fatalf("%s for match %q", code, match)
			}
			return
		}
		if step != "" && !slices.Contains([]string{"2s", "10s", "1m", "5m"}, step) {
			t.Fatalf("200 for step %q", step)
		}
		if by != "" && by != "named" && by != "arrival" && by != "video" {
			t.Fatalf("200 for by %q", by)
		}
		csv := format == "csv" || format == "" && strings.Contains(accept, "text/csv")
		from0 := checkTimelineAnswer(t, ctx.Response.Body(), csv)
		if ms, err := strconv.ParseInt(from, 10, 64); err == nil && !csv && from0 != wire.WindowStart(ms, stepMs(step)) {
			t.Fatalf("from %q answered from %d", from, from0)
		}
	})
}

// stepMs is a step parameter's length; "" is the default, 1m.
func stepMs(step string) int64 {
	d, err := time.ParseDuration(step)
	if err != nil {
		return time.Minute.Milliseconds()
	}
	return d.Milliseconds()
}

// checkTimelineAnswer checks a whole answer: parsable, its steps in its
// range and of its length, its total their sum. It returns the answer's
// from in Unix ms (0 for CSV).
func checkTimelineAnswer(t *testing.T, body []byte, csv bool) int64 {
	t.Helper()
	if csv {
		lines := strings.Split(string(body), "\r\n")
		if !strings.HasPrefix(lines[0], "start,end,total,") || lines[len(lines)-1] != "" {
			t.Fatalf("CSV answer %q", body)
		}
		return 0
	}
	var a wire.TimelineAnswer
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		t.Fatalf("JSON answer %q: %v", body, err)
	}
	from, to := a.From, a.To
	if from.After(to) {
		t.Fatalf("range %v..%v", a.From, a.To)
	}
	var total int64
	for _, s := range a.Steps {
		if s.Start.Before(from) || !s.End.After(s.Start) || s.End.After(to) {
			t.Fatalf("step %v..%v outside %v..%v", s.Start, s.End, from, to)
		}
		total += s.Total
	}
	if total != a.Total {
		t.Fatalf("total %d, steps sum to %d", a.Total, total)
	}
	return from.UnixMilli()
}

// FuzzMatches drives GET /v1/matches with any query and Accept header:
// 200 {"matches":[…]} with an id and a state each, or a JSON error.
func FuzzMatches(f *testing.F) {
	st, _ := startFuzzServer(f, ingest.Config{MatchesRate: -1}) // the limit has its own tests; FuzzMatchList the pages
	for _, s := range [][2]string{{"", ""}, {"state=live", "application/json"}, {"limit=1", ""}, {"limit=-1&cursor=x", ""},
		{"limit=9223372036854775807", ""}, {"state=%ff&limit=1.5", ""}, {strings.Repeat("a=b&", 2000), ""}} {
		f.Add(s[0], s[1])
	}
	h := st.srv.Handler()
	f.Fuzz(func(t *testing.T, query, accept string) {
		ctx := serve(h, "GET", "/v1/matches?"+onTheWire(query), nil, "Accept", accept)
		if ctx.Response.StatusCode() != 200 {
			checkJSONError(t, ctx, 400)
			return
		}
		var a struct {
			Matches []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"matches"`
		}
		if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil || a.Matches == nil {
			t.Fatalf("answer %q: %v", ctx.Response.Body(), err)
		}
		for _, m := range a.Matches {
			if !wire.ValidMatchID(m.ID) || m.State == "" {
				t.Fatalf("match %+v", m)
			}
		}
	})
}

// FuzzSession drives POST /v1/session (sessions on) with any method,
// Origin and body: a 200 is a token that the server's key verifies, for
// the user it names; anything else is 204 (OPTIONS), or a JSON error 403
// (another origin) or 405.
func FuzzSession(f *testing.F) {
	st, _ := startFuzzServer(f, ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: testSecret},
		Session: ingest.SessionConfig{Enabled: true, Rate: 1e9, Burst: 1 << 30}})
	for _, s := range [][3]string{{"POST", "", ""}, {"POST", "", "{}"}, {"GET", "", ""}, {"OPTIONS", "https://evil.example", ""},
		{"POST", "https://evil.example", ""}, {"PUT", "null", "\x00"}, {"POST", "", strings.Repeat("x", 70_000)}} {
		f.Add(s[0], s[1], []byte(s[2]))
	}
	h := st.srv.Handler()
	f.Fuzz(func(t *testing.T, method, origin string, body []byte) {
		if method == "" || strings.ContainsAny(method, " \r\n") {
			return // no request line holds it
		}
		ctx := serve(h, method, "/v1/session", body, "Origin", origin)
		switch status := ctx.Response.StatusCode(); {
		case status == 200:
			checkSessionToken(t, method, ctx.Response.Body())
		case status == 204:
			if method != "OPTIONS" {
				t.Fatalf("204 for %s", method)
			}
		default:
			checkJSONError(t, ctx, 403, 405)
		}
	})
}

func checkSessionToken(t *testing.T, method string, body []byte) {
	t.Helper()
	var r struct {
		Token  string `json:"token"`
		UserID string `json:"user_id"`
	}
	if err := json.Unmarshal(body, &r); err != nil || method != "POST" {
		t.Fatalf("200 for %s: %q (%v)", method, body, err)
	}
	var c jwt.RegisteredClaims
	if _, err := jwt.ParseWithClaims(r.Token, &c, func(*jwt.Token) (any, error) { return testSecret, nil }); err != nil || c.Subject != r.UserID {
		t.Fatalf("session token %q for %q: %v", r.Token, r.UserID, err)
	}
}

// ownHost says whether host names the ops listener at addr (127.0.0.1):
// its address or localhost or the host name, any port, or none at all.
func ownHost(host, addr string) bool {
	h := strings.NewReplacer("\r", "", "\n", "").Replace(host)
	if hp, _, err := net.SplitHostPort(h); err == nil {
		h = hp
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	name, _ := os.Hostname()
	return h == "" || h == "127.0.0.1" || h == "localhost" || h == strings.ToLower(name)
}

// FuzzAdmin drives the ops listener (the admin API, metrics, health) with
// any method, path, Host, Authorization and body. A Host that is not the
// listener's is 403 (405 for a method no server knows); the admin API without the token 401; nothing is a
// 5xx; every refusal is a JSON error.
func FuzzAdmin(f *testing.F) {
	st, _ := startFuzzServer(f, ingest.Config{AdminToken: testAdminToken, AdminGuessRate: -1})
	bearer := "Bearer " + testAdminToken
	ops := strings.TrimPrefix(st.ops, "http://")
	for _, s := range [][5]string{
		{"GET", "/v1/admin/matches", "", bearer, ""},
		{"POST", "/v1/admin/matches", ops, bearer, `{"id":"semi-1","planned_start":"9999-12-31T23:59:59Z"}`},
		{"POST", "/v1/admin/matches", "", bearer, `{"id":"x","planned_start":"0000-01-01T00:00:00Z","state":"live"}`},
		{"POST", "/v1/admin/matches", "", bearer, `{"id":"y","planned_start":"-9223372036854775808"}`},
		{"POST", "/v1/admin/matches/semi-1/start", "localhost", bearer, ""},
		{"DELETE", "/v1/admin/matches/semi-1", "", bearer, ""},
		{"GET", "/v1/admin/matches", "", "Bearer wrong", ""},
		{"GET", "/v1/admin/matches", "rebind.evil.example", bearer, ""},
		{"GET", "/metrics", ops, "", ""},
		{"GET", "/readyz", "", "", ""},
		{"OPTIONS", "/v1/admin/matches", "", bearer, ""},
		{"POST", "/v1/admin/matches", "", bearer, strings.Repeat("[", 70_000)},
	} {
		f.Add(s[0], s[1], s[2], s[3], []byte(s[4]))
	}
	h := st.srv.OpsHandler()
	f.Fuzz(func(t *testing.T, method, path, host, auth string, body []byte) {
		if method == "" || strings.ContainsAny(method+path, " \r\n#?") || !strings.HasPrefix(path, "/") {
			return // no request line holds it
		}
		ctx := serve(h, method, path, body, "Host", host, "Authorization", auth)
		status := ctx.Response.StatusCode()
		if own := ownHost(host, ops); !own && status != 403 && status != 405 || own && status == 403 && method != "OPTIONS" {
			t.Fatalf("%d for Host %q", status, host)
		}
		if status < 300 || status == 304 {
			if strings.HasPrefix(path, "/v1/admin") && auth != bearer {
				t.Fatalf("%d for %s %s without the token", status, method, path)
			}
			return
		}
		code := checkJSONError(t, ctx, 400, 401, 403, 404, 405, 409, 413, 503)
		if status == 503 && code != wire.CodeRegistryUnavailable && code != wire.CodeKafkaUnavailable {
			t.Fatalf("503 %s", code)
		}
	})
}
