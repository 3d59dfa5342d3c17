package main

import (
	"bytes"
	"context"
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
