package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/recovery"
)

// The --ops listener of bridge, processor and edge answers only Hosts
// that name it (its address, localhost, --ops-host); a DNS rebinding
// page's Host gets 403. A panic in one of its handlers fails only that
// request.
func TestMetricsListener(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	mf := addOpsFlags(fs, "127.0.0.1:0", "")
	if err := fs.Parse([]string{"--ops", "127.0.0.1:0", "--ops-host", "prom.internal"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ms, err := mf.listen(slog.New(slog.NewTextHandler(&logs, nil)), fs)
	if err != nil || ms == nil {
		t.Fatalf("listen: %v, %v", ms, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ms.serve(ctx, "test_metrics", prometheus.NewRegistry(), func() error { panic("planted in ready") })
	}()
	defer func() { cancel(); <-done }()
	addr := ms.ln.Addr().String()
	get := func(host, path string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	port := addr[strings.LastIndex(addr, ":")+1:]
	before := recovery.Count("test_metrics")
	for _, tt := range []struct {
		host, path string
		want       int
	}{
		{addr, "/metrics", 200}, {"localhost:" + port, "/healthz", 200}, {"prom.internal:" + port, "/metrics", 200},
		{"rebind.evil.example:" + port, "/metrics", 403}, {"rebind.evil.example", "/healthz", 403},
		{addr, "/readyz", 500}, {addr, "/metrics", 200},
	} {
		if got := get(tt.host, tt.path); got != tt.want {
			t.Errorf("%s with Host %q: %d, want %d", tt.path, tt.host, got, tt.want)
		}
	}
	if c := recovery.Count("test_metrics") - before; c != 1 || strings.Count(logs.String(), "planted in ready") != 1 {
		t.Errorf("panics counted %v, logged:\n%s", c, logs.String())
	}
	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	mf = addOpsFlags(fs, "127.0.0.1:0", "")
	_ = fs.Parse([]string{"--ops-host", "http://prom.internal"})
	if _, err := mf.listen(slog.New(slog.DiscardHandler), fs); err == nil || !strings.Contains(err.Error(), "--ops-host") {
		t.Errorf("--ops-host with a scheme: %v, want an error naming the flag", err)
	}
}
