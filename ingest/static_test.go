package ingest_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/web"
	"github.com/emostream/emostream/wire"
)

// The page and the embeddable client are files of one tree, web.Static(),
// served by one handler: GET and HEAD, the security headers, CORS for the
// configured origins, a panic failing only its request.

const clientPath = "/" + web.ClientPath

// TestClientModule: ingest serves the built client (web.Client()) at
// /client/emostream.min.js as text/javascript, under the page's
// Content-Security-Policy (the page imports it as its own script); a page
// of an allowed origin may import it, others are refused; other methods
// are answered as for any file of the page.
func TestClientModule(t *testing.T) {
	const app = "https://app.example"
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{CORSOrigins: []string{app}})
	r := st.do(t, http.MethodGet, clientPath, "", nil)
	if r.status != 200 || !bytes.Equal(r.body, web.Client()) {
		t.Fatalf("GET %s: %d, %d bytes, want 200 and web.Client()'s %d", clientPath, r.status, len(r.body), len(web.Client()))
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type %q, want text/javascript", ct)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", got)
	}
	if r := st.do(t, http.MethodHead, clientPath, "", nil); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD: %d with %d bytes", r.status, len(r.body))
	}
	// Another method: as for the page's own script, 404 not_found.
	page := st.do(t, http.MethodPost, "/app.js", "application/json", nil)
	for _, path := range []string{clientPath, "/client", "/client/", "/client/nope.js", "/client/../go.mod"} {
		r := st.do(t, http.MethodPost, path, "application/json", nil)
		checkError(t, r, page.status, wire.CodeNotFound, -1)
	}
	// A folder, a file not there, a way out: 404 not_found.
	for _, path := range []string{"/client/", "/client", "/vendor/", "/client/nope.js", "/client/%2e%2e/emostream.d.ts", "/client/..%2f..%2fgo.mod"} {
		checkError(t, st.do(t, http.MethodGet, path, "", nil), 404, wire.CodeNotFound, -1)
	}

	r = st.request(t, st.url, http.MethodGet, clientPath, "Origin", app)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("GET from the allowed %s: %d, Access-Control-Allow-Origin %q", app, r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	checkError(t, st.request(t, st.url, http.MethodGet, clientPath, "Origin", "https://evil.example"), 403, wire.CodeForbidden, -1)
}

// panickyFS panics on every Open: a fault in serving a file.
type panickyFS struct{}

func (panickyFS) Open(string) (fs.File, error) { panic("planted in Open") }

// TestStaticPanic: a panic while serving a file of the page (the client
// among them) fails that request with 500 internal; the API goes on.
func TestStaticPanic(t *testing.T) {
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Static: panickyFS{}})
	before := panicCounts(t, st)
	checkError(t, st.do(t, http.MethodGet, clientPath, "", nil), 500, wire.CodeInternal, -1)
	if r := st.do(t, http.MethodGet, "/v1/config", "", nil); r.status != 200 {
		t.Errorf("GET /v1/config after the panic: %d", r.status)
	}
	if after := panicCounts(t, st); after["ingest_api"]-before["ingest_api"] != 1 {
		t.Errorf("emostream_panics_total{component=\"ingest_api\"} went from %v to %v, want one more", before["ingest_api"], after["ingest_api"])
	}
}

// FuzzStatic drives the page's file tree with any method and path: a 200
// is a file of web.Static() (the client's bytes at its path), anything
// else a JSON error of the code table, never a 5xx.
func FuzzStatic(f *testing.F) {
	st := startIngest(f, testenv.StartKafka(f, 1).Target(), ingest.Config{UserRate: -1, IPRate: -1})
	h := st.srv.Handler()
	for _, seed := range []struct{ method, path string }{
		{"GET", clientPath}, {"HEAD", clientPath}, {"POST", clientPath}, {"GET", "/client"}, {"GET", "/client/"},
		{"GET", "/client/../index.html"}, {"GET", "/client/%2e%2e/app.js"}, {"GET", "/client//emostream.min.js"},
		{"GET", "/client/emostream.min.js%00"}, {"GET", "/./client/./emostream.min.js"}, {"GET", "/vendor/"},
		{"GET", "/" + strings.Repeat("a/", 2000)}, {"DELETE", "/index.html"}, {"GET", "/CLIENT/EMOSTREAM.MIN.JS"},
	} {
		f.Add(seed.method, seed.path)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		if method == "" || strings.ContainsAny(method, " \r\n") || !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "/v1/") {
			return // the API's own routes have their own targets
		}
		ctx := serve(h, method, onTheWire(path), nil)
		status := ctx.Response.StatusCode()
		if status == 200 {
			if string(ctx.Path()) == clientPath && method == "GET" && !bytes.Equal(ctx.Response.Body(), web.Client()) {
				t.Fatalf("GET %s: not the client", clientPath)
			}
			return
		}
		if status == 304 || status == 204 { // a conditional GET, a preflight without Origin
			return
		}
		code := checkJSONError(t, ctx, 400, 404, 405, 413, 414, 431)
		if status == 404 && code != wire.CodeNotFound {
			t.Fatalf("404 %s, want not_found", code)
		}
	})
}
