package fanout

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
)

// TestHubFailsAfterStart: a hub that fails after it started, on its own,
// is not ready and Run returns the failure (it had only logged it). The
// causes are real: a store that became unwritable (nats-server turns
// JetStream off and serves on), a fatal error the server logs through its
// logger, a shutdown that Shutdown did not ask for.
func TestHubFailsAfterStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cause func(t *testing.T, h *Hub)
		want  string
	}{
		{"store unwritable", func(t *testing.T, h *Hub) {
			nc, err := nats.Connect(h.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			testenv.BreakJetStreamStore(t, nc, h.cfg.DataDir, "STAGES")
		}, "turned JetStream off"},
		{"fatal error", func(t *testing.T, h *Hub) {
			h.Server().Fatalf("planted: %s", "a listener failed")
		}, "planted: a listener failed"},
		{"shut down on its own", func(t *testing.T, h *Hub) {
			h.Server().Shutdown()
		}, "shut down on its own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHub(t)
			if err := h.Ready(); err != nil {
				t.Fatalf("started hub: Ready %v", err)
			}
			done := make(chan error, 1)
			go func() { done <- h.Run(context.Background()) }()
			tc.cause(t, h)
			select {
			case err := <-done:
				if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Run: %v, want ErrFailed saying %q", err, tc.want)
				}
			case <-time.After(time.Minute):
				t.Fatal("Run still runs a minute after the hub failed")
			}
			if err := h.Ready(); !errors.Is(err, ErrFailed) {
				t.Errorf("failed hub: Ready %v, want ErrFailed", err)
			}
			if h.Server().Running() {
				t.Error("Run returned with the failed server still running")
			}
		})
	}
}

// TestShutdownIsNoFailure: Run ends without error when its context ends,
// and a hub shut down by its owner is not ready but has not failed.
func TestShutdownIsNoFailure(t *testing.T) {
	h := startHub(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after its context ended: %v", err)
	}
	if err := h.Ready(); !errors.Is(err, ErrNotReady) {
		t.Errorf("hub shut down: Ready %v, want ErrNotReady", err)
	}
	if err := h.Err(); err != nil {
		t.Errorf("hub shut down: Err %v, want nil", err)
	}
}

// watchers counts the goroutines of embedded.watch, the health poll and
// its wait for the server's shutdown.
func watchers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "fanout.(*embedded).watch")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestShutdownStopsTheWatch: the goroutines that watch a started hub's
// health (a 250 ms poll and a wait for the server's shutdown) end with
// Shutdown, and with Run when its context ends: a hub leaves none behind.
func TestShutdownStopsTheWatch(t *testing.T) {
	for _, stop := range []string{"Shutdown", "Run"} {
		t.Run(stop, func(t *testing.T) {
			// Earlier tests' servers, shut down in their cleanups, may still
			// be ending their watches: counted in a "before", one ending
			// while this hub's starts hid it (a CI run).
			testenv.WaitFor(t, 10*time.Second, "earlier servers' watches to end", func() bool { return watchers() == 0 })
			h := startHub(t)
			testenv.WaitFor(t, 10*time.Second, "the hub's watch", func() bool { return watchers() > 0 })
			if stop == "Shutdown" {
				h.Shutdown()
			} else {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if err := h.Run(ctx); err != nil {
					t.Fatal(err)
				}
			}
			testenv.WaitFor(t, 10*time.Second, "the watch to end", func() bool { return watchers() == 0 })
		})
	}
}
