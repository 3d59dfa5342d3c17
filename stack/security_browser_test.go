package stack_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/web/webtest"
)

// otherOrigin serves an empty page on another loopback port: another
// origin than ingest's.
func otherOrigin(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>another site</title>")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// accepted is ingest's count of accepted events.
func accepted(t *testing.T, st *stack.Stack) float64 {
	t.Helper()
	mfs, err := st.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "emostream_ingest_events_accepted_total" {
			return sumOf(mf.GetMetric())
		}
	}
	return 0
}

func sumOf(ms []*dto.Metric) float64 {
	var n float64
	for _, m := range ms {
		n += m.GetCounter().GetValue()
	}
	return n
}

// fetchJS posts one reaction from the page to url with headers and says
// what the page could see: the status, or the error.
func fetchJS(url, headers, mode string) string {
	return fmt.Sprintf(`fetch(%q, {method: "POST", mode: %q, headers: %s,
		body: JSON.stringify({user_id: "u-x", match_id: "xo-match", emoji_type: "🔥"})})
		.then((r) => "status " + r.status, (e) => "error " + e.name)`, url, mode, headers)
}

// TestBrowserCrossOrigin: in Chromium, a page of another origin cannot
// post reactions (preflighted or not) unless its origin is allowed, and no
// page reaches the ops listener (metrics, admin API).
func TestBrowserCrossOrigin(t *testing.T) {
	ctx := webtest.NewBrowser(t)
	allowed, evil := otherOrigin(t), otherOrigin(t)
	st := startStackWith(t, stack.Config{Window: time.Second, Registry: registry.Config{AutoMatches: 100},
		Ingest: ingest.Config{CORSOrigins: []string{allowed}, AdminToken: strings.Repeat("a", 24)}})
	api := st.HTTPURL() + "/v1/emojis"
	ops := "http://" + st.Ingest.OpsAddr().String()
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	json := `{"Content-Type": "application/json"}`

	if _, err := chromedp.Run(ctx, chromedp.Navigate(evil)); err != nil {
		t.Fatal(err)
	}
	before := accepted(t, st)
	if got := eval("preflighted POST from another origin", fetchJS(api, json, "cors")); got != "error TypeError" {
		t.Errorf("preflighted POST from %s: %s, want a CORS error", evil, got)
	}
	// A "simple" request has no preflight: the browser sends it, ingest
	// refuses it by its Origin.
	if got := eval("simple POST from another origin", fetchJS(api, `{"Content-Type": "text/plain"}`, "no-cors")); got != "status 0" {
		t.Errorf("no-cors POST: %s, want an opaque answer", got)
	}
	if got := accepted(t, st); got != before {
		t.Errorf("accepted events went from %v to %v after refused cross-origin posts", before, got)
	}

	if _, err := chromedp.Run(ctx, chromedp.Navigate(allowed)); err != nil {
		t.Fatal(err)
	}
	if got := eval("POST from an allowed origin", fetchJS(api, json, "cors")); got != "status 202" {
		t.Errorf("POST from allowed %s: %s, want status 202", allowed, got)
	}
	admin := fmt.Sprintf(`fetch(%q, {headers: {Authorization: "Bearer %s"}}).then((r) => "status " + r.status, (e) => "error " + e.name)`,
		ops+"/v1/admin/matches", strings.Repeat("a", 24))
	if got := eval("admin API from a page", admin); got != "error TypeError" {
		t.Errorf("admin API from a page: %s, want a CORS error", got)
	}
	if got := eval("metrics from a page", fmt.Sprintf(`fetch(%q).then((r) => r.text(), (e) => "error " + e.name)`, ops+"/metrics")); got != "error TypeError" {
		t.Errorf("metrics from a page: %.80s, want a CORS error", got)
	}
	// The allowed page may read the public port: the admin API is not there.
	if got := eval("admin path on the public port", fmt.Sprintf(`fetch(%q).then((r) => "status " + r.status, (e) => "error " + e.name)`, st.HTTPURL()+"/v1/admin/matches")); got != "status 404" {
		t.Errorf("admin path on the public port: %s, want status 404", got)
	}
}

// TestBrowserSessions: with sessions on (so tokens required), the page
// served by ingest, under its Content-Security-Policy, takes a session
// token and its clicks are counted in swarms.
func TestBrowserSessions(t *testing.T) {
	ctx := webtest.NewBrowser(t)
	st := startStackWith(t, stack.Config{Window: time.Second, Registry: registry.Config{AutoMatches: 100},
		Ingest: ingest.Config{Session: ingest.SessionConfig{Enabled: true}}})
	res, err := http.Get(st.HTTPURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, st.WebSocketURLs()[0]) {
		t.Fatalf("Content-Security-Policy %q lacks the page's script or WebSocket sources", csp)
	}
	res, err = http.Post(st.HTTPURL()+"/v1/emojis", "application/json", strings.NewReader(`{"user_id":"u","match_id":"m","emoji_type":"🔥"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST without a token: %d, want 401", res.StatusCode)
	}
	if _, err := chromedp.Run(ctx, chromedp.Navigate(st.HTTPURL()+"/?match=session-match")); err != nil {
		t.Fatal(err)
	}
	until(ctx, t, "connected", `document.getElementById("status").dataset.state === "connected"`)
	for range 3 {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-emoji="🔥"]`))); err != nil {
			t.Fatal(err)
		}
	}
	until(ctx, t, "the three clicks counted in swarms", `Number(document.getElementById("total-all").textContent.replace(/,/g, "")) === 3`)
}
