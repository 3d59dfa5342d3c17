package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// TestSendSplitsToFitTheBurst: 150 events of one user are more than the
// per-user burst (100); send splits them to fit and spreads them over time,
// and every one is stored.
func TestSendSplitsToFitTheBurst(t *testing.T) {
	k := testenv.StartKafka(t, 1)
	url := startIngest(t, ingest.Config{KafkaBrokers: []string{k.Addr()}})
	var out bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	runCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := dispatch(runCtx, env, []string{"send", "--target", url, "--user", "u", "--count", "150"}); err != nil {
		t.Fatalf("send: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "202 accepted 100") || !strings.Contains(out.String(), "202 accepted 50") {
		t.Errorf("send's output:\n%s", out.String())
	}
	conn, err := kafka.DialLeader(context.Background(), "tcp", k.Addr(), k.Topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	if last != 150 {
		t.Errorf("%d records stored, want 150", last)
	}
}

// startIngest runs an ingest with cfg on a free local port until the test
// ends, waits until it is ready, and returns its base URL.
func startIngest(t *testing.T, cfg ingest.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	cfg.Logger = testenv.Logger(t)
	srv, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	url := "http://" + ln.Addr().String()
	waitReady(t, url)
	return url
}

// waitReady waits until the ingest at url answers /readyz with 200: Kafka
// reached, so a first request is not refused 503.
func waitReady(t *testing.T, url string) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "ingest ready", func() bool {
		res, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// TestConcurrentSendsAreDistinctUsers: two sends at once without --user
// are users of their own (cli-<random>), so they never share a user's
// rate limit; --user keeps the id given (issue 21: both were "cli-user").
func TestConcurrentSendsAreDistinctUsers(t *testing.T) {
	k := testenv.StartKafka(t, 1)
	url := startIngest(t, ingest.Config{KafkaBrokers: []string{k.Addr()}})
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	runs := [][]string{{"--count", "1"}, {"--count", "1"}, {"--count", "120"}, {"--count", "2", "--user", "fixed"}}
	errs := make(chan error, len(runs))
	for _, args := range runs {
		go func() {
			env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
			errs <- dispatch(ctx, env, append([]string{"send", "--target", url}, args...))
		}()
	}
	for range runs {
		if err := <-errs; err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Each run's events share an event_id prefix (send-<hex>-i): group
	// the users by run.
	users := map[string]map[string]bool{}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{k.Addr()}, Topic: k.Topic, Partition: 0})
	defer r.Close()
	for n := 0; n < 1+1+120+2; n++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading record %d: %v", n, err)
		}
		var rec struct {
			EventID string `json:"event_id"`
			UserID  string `json:"user_id"`
		}
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatal(err)
		}
		run := rec.EventID[:strings.LastIndexByte(rec.EventID, '-')]
		if users[run] == nil {
			users[run] = map[string]bool{}
		}
		users[run][rec.UserID] = true
	}
	if len(users) != len(runs) {
		t.Fatalf("%d runs in the records, want %d: %v", len(users), len(runs), users)
	}
	owner := map[string]string{}
	for run, us := range users {
		for u := range us {
			if other, ok := owner[u]; ok {
				t.Errorf("user %q sent in two runs, %s and %s", u, other, run)
			}
			owner[u] = run
			if u != "fixed" && !strings.HasPrefix(u, "cli-") {
				t.Errorf("user %q, want cli-<random>[-i] or the --user given", u)
			}
		}
	}
	if _, ok := owner["fixed"]; !ok {
		t.Errorf("--user fixed not kept: %v", users)
	}
}
