package ingest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The ops listener limits its clients as the other stages' do
// (ratelimit.Guard): a flood from one address is answered 429
// rate_limited with Retry-After while a scrape from another gets 200;
// idle connections of one client hold at most its cap, and one over it is
// answered 503 and closed while another client gets in.
func TestOpsGuard(t *testing.T) {
	st := startIngest(t, testenv.StartKafka(t, 1).Target(),
		ingest.Config{OpsGuard: ratelimit.GuardConfig{MaxConnections: 8, MaxPerNetwork: 4}})
	ops := strings.TrimPrefix(st.ops, "http://")
	get := func(c *http.Client, path string) (*http.Response, string) {
		res, err := c.Get(st.ops + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	flood := testenv.ClientFrom(2, true)
	var res *http.Response
	var body string
	for i := 0; i < 10_000 && (res == nil || res.StatusCode != http.StatusTooManyRequests); i++ {
		res, body = get(flood, "/metrics")
	}
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("10,000 requests from one client: last %d (Retry-After %q), want 429", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if e := decodeJSON[apiError](t, []byte(body)); e.Error.Code != wire.CodeRateLimited || !strings.Contains(e.Error.Message, "127.0.0.2") {
		t.Errorf("429 body %s", body)
	}
	if res, body := get(testenv.ClientFrom(3, false), "/metrics"); res.StatusCode != http.StatusOK ||
		!strings.Contains(body, `emostream_ops_rate_limited_total{component="ingest_ops",scope="client"} 1`) {
		t.Errorf("a scrape from another address during the flood: %d\n%s", res.StatusCode, body)
	}
	for range 4 {
		c, err := testenv.DialFrom(4)(context.Background(), "tcp", ops)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	c, err := testenv.DialFrom(4)(context.Background(), "tcp", ops)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || !strings.Contains(string(b), "503") {
		t.Errorf("a fifth idle connection of one client: %q, %v; want 503 and closed", b, err)
	}
	if res, _ := get(testenv.ClientFrom(5, false), "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("another client while one holds its cap: %d", res.StatusCode)
	}
}

// Health probes are never refused 429, neither from another address
// when a flood of many addresses has spent the listener's budget nor from
// the flooding address (see cmd/emostream's TestOpsProbesSurviveFloods).
func TestOpsProbesSurviveFloods(t *testing.T) {
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{OpsGuard: ratelimit.GuardConfig{
		Rate: 0.001, Burst: 1, ListenerRate: 0.001, ListenerBurst: 5}})
	status := func(from byte, path string) int {
		res, err := testenv.ClientFrom(from, false).Get(st.ops + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for from := byte(2); from < 8; from++ {
		status(from, "/metrics")
	}
	for _, from := range []byte{2, 9} {
		if code := status(from, "/metrics"); code != http.StatusTooManyRequests {
			t.Fatalf("/metrics from 127.0.0.%d past the limits: %d, want 429", from, code)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			if code := status(from, path); code == http.StatusTooManyRequests {
				t.Errorf("%s from 127.0.0.%d past the limits: 429", path, from)
			}
		}
	}
}
