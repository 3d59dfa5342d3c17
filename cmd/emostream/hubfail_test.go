package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
)

// TestHubExitsWhenItFails: emostream hub whose store becomes unwritable
// under it (nats-server then turns JetStream off and serves on) exits
// non-zero with the error, instead of running on as if healthy; its
// /readyz answered 200 until then.
func TestHubExitsWhenItFails(t *testing.T) {
	dir := t.TempDir()
	hub, got := startStage(t, dir, nil, []string{"hub", "--data-dir", dir, "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0",
		"--monitor", "", "--ops", "127.0.0.1:0"}, `stages connect to (nats://\S+)`, `hub: metrics on (http://\S+)/metrics`)
	res, err := http.Get(got[1] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz of the started hub: %d", res.StatusCode)
	}
	nc, err := nats.Connect(got[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	testenv.BreakJetStreamStore(t, nc, dir, "STAGES")
	if code := hub.exit(t); code == 0 || !strings.Contains(hub.stderr.String(), "turned JetStream off") {
		t.Fatalf("hub exited %d, want non-zero saying JetStream was turned off:\n%s%s", code, hub.stdout.String(), hub.stderr.String())
	}
}
