package stack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

const stackAdminToken = "0123456789abcdef-stack"

// TestRestartWithFullRegistry: a stack whose registry holds its bound of
// operator matches (the demo match among them) and of auto-admitted ones
// starts again: the demo match is found before the bound is checked. The
// operator then gets "registry full" for a new match, and starts, ends
// and removes matches, which makes room; GET /v1/matches lists the
// operator's matches first.
func TestRestartWithFullRegistry(t *testing.T) {
	cfg := stack.Config{DataDir: t.TempDir(), Partitions: 1, Logger: testenv.Logger(t), DemoMatch: "demo",
		WebSocketListens: []string{"127.0.0.1:0"}, Ingest: ingest.Config{AdminToken: stackAdminToken},
		Registry: registry.Config{MaxMatches: 5, AutoMatches: 3}}
	st, stop := startAndRun(t, cfg)
	ctx := context.Background()
	for i := range 4 {
		if _, err := st.Matches.Create(ctx, registry.Match{ID: fmt.Sprint("op", i), State: registry.Live}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := st.Matches.Admit(fmt.Sprint("auto", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop()

	st, _ = startAndRun(t, cfg)
	admin := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+st.Ingest.OpsAddr().String()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+stackAdminToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		has                string
	}{
		{"POST", "/v1/admin/matches", `{"id":"new"}`, 409, "registry full: 5 of 5; end and delete matches"},
		{"POST", "/v1/admin/matches", `{"id":"demo"}`, 409, "already exists"},
		{"POST", "/v1/admin/matches", `{"id":"auto0"}`, 409, "already exists"},
		{"POST", "/v1/admin/matches/op0/end", ``, 200, `"ended"`},
		{"DELETE", "/v1/admin/matches/op0", ``, 204, ""},
		{"POST", "/v1/admin/matches", `{"id":"new"}`, 201, `"scheduled"`},
		{"POST", "/v1/admin/matches/new/start", ``, 200, `"live"`},
		{"DELETE", "/v1/admin/matches/auto1", ``, 204, ""},
	} {
		if status, body := admin(c.method, c.path, c.body); status != c.status || !strings.Contains(body, c.has) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", c.method, c.path, c.body, status, body, c.status, c.has)
		}
	}
	testenv.WaitFor(t, 10e9, "the removal in the copy", func() bool { _, ok := st.Matches.Snapshot().Lookup("auto1"); return !ok })
	if status, code, _ := postStatus(t, st.HTTPURL(), []map[string]string{{"user_id": "u", "match_id": "auto9", "emoji_type": "🔥"}}); status != http.StatusAccepted {
		t.Errorf("an auto match into the room a removed one left: %d %s", status, code)
	}
	if status, code, _ := postStatus(t, st.HTTPURL(), []map[string]string{{"user_id": "u", "match_id": "auto10", "emoji_type": "🔥"}}); code != wire.CodeUnknownMatch {
		t.Errorf("a fourth auto match: %d %s", status, code)
	}
	testenv.WaitFor(t, 10e9, "the copy current", func() bool { _, ok := st.Matches.Snapshot().Lookup("auto9"); return ok })
	res, err := http.Get(st.HTTPURL() + "/v1/matches")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if !strings.HasPrefix(string(b), `{"matches":[{"id":"demo","state":"live","title":"Demo match"},{"id":"new"`) ||
		!strings.Contains(string(b), `{"id":"auto0","state":"live","auto":true}`) {
		t.Errorf("GET /v1/matches: %s", b)
	}
}

// startAndRun starts and runs the stack of cfg; stop stops it (and is
// called when the test ends).
func startAndRun(t *testing.T, cfg stack.Config) (st *stack.Stack, stop func()) {
	t.Helper()
	st, err := stack.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("stack: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	waitReady(t, st.HTTPURL())
	return st, stop
}
