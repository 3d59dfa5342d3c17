package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// testLogger shows server logs only with EMOSTREAM_TEST_LOG=1.
func testLogger() *slog.Logger {
	level := slog.LevelWarn + 100
	if os.Getenv("EMOSTREAM_TEST_LOG") != "" {
		level = slog.LevelDebug - 4
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func startHub(t testing.TB) *Hub {
	t.Helper()
	return startHubConfig(t, HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0",
		LeafListen: "127.0.0.1:0", MonitorListen: "127.0.0.1:0", Logger: testLogger()})
}

// startHubConfig starts the hub of cfg until the test ends.
func startHubConfig(t testing.TB, cfg HubConfig) *Hub {
	t.Helper()
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	return h
}

// leafConfig is a loopback leaf of remote with random ports.
func leafConfig(name, remote string, withLeafListener bool) LeafConfig {
	c := LeafConfig{Name: name, Remotes: []string{remote}, WebSocketListen: "127.0.0.1:0",
		MonitorListen: "127.0.0.1:0", WriteTimeout: 500 * time.Millisecond, Logger: testLogger()}
	if withLeafListener {
		c.LeafListen = "127.0.0.1:0"
	}
	return c
}

func startLeaf(t testing.TB, cfg LeafConfig) *Leaf {
	t.Helper()
	l, err := NewLeaf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Shutdown)
	return l
}

// waitLeafs waits until s has n leafnode connections.
func waitLeafs(t testing.TB, e *embedded, n int) {
	t.Helper()
	waitFor(t, 10*time.Second, func() bool { return e.Server().NumLeafNodes() == n },
		"%s: %d leafnode connections", e.Server().Name(), n)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for "+format, append([]any{d}, args...)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func connect(t testing.TB, urls string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		t.Fatalf("connecting to %s: %v", urls, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// stageJS connects to the hub as a stage (anonymous, or with opts, e.g.
// the processor's credentials) and creates EMOSTREAM_SWARMS.
func stageJS(t testing.TB, h *Hub, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(connect(t, h.ClientURL(), opts...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: wire.SwarmsStream,
		Subjects: []string{wire.SwarmsSubjects}, Storage: jetstream.FileStorage,
		RePublish:   &jetstream.RePublish{Source: wire.SwarmsSubjects, Destination: wire.LiveSubjects},
		AllowDirect: true, DenyDelete: true, DenyPurge: true, MaxMsgsPerSubject: 300})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// window is the start of window w (2 s windows from a fixed origin).
func window(w int) time.Time {
	return time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC).Add(time.Duration(w) * 2 * time.Second)
}

func swarmBody(match string, w int) []byte {
	ms := "2006-01-02T15:04:05.000Z07:00"
	b, _ := json.Marshal(map[string]any{"match_id": match, "window_start": window(w).Format(ms),
		"window_end": window(w + 1).Format(ms), "counts": map[string]int{"🔥": 1000 + w},
		"swarm": map[string]int{"🔥": 1}, "total": 1000 + w, "partitions": 8, "closed_by": "all",
		"published_at": time.Now().UTC().Format(ms)})
	return b
}

// publishSwarm stores the swarm of window w of match, with its Nats-Msg-Id.
func publishSwarm(t testing.TB, js jetstream.JetStream, match string, w int) {
	t.Helper()
	msg := nats.NewMsg(wire.SwarmSubject(match))
	msg.Data = swarmBody(match, w)
	msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("%s/%d", match, window(w).UnixMilli()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("publishing %s/%d: %v", match, w, err)
	}
}

// windowOf returns the window number of a swarm body.
func windowOf(t testing.TB, body []byte) int {
	var s struct {
		WindowStart time.Time `json:"window_start"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Errorf("bad swarm %q: %v", body, err)
	}
	return int(s.WindowStart.Sub(window(0)) / (2 * time.Second))
}

// recorder collects the windows a viewer received.
type recorder struct {
	mu      sync.Mutex
	windows []int
	latest  []bool
}

func (r *recorder) add(t testing.TB) func([]byte, bool) {
	return func(b []byte, latest bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.windows = append(r.windows, windowOf(t, b))
		r.latest = append(r.latest, latest)
	}
}

func (r *recorder) got() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.windows...)
}

// watch runs Watch in the background until the test ends.
func watch(t testing.TB, nc *nats.Conn, match string) *recorder {
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, nc, match, r.add(t)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	return r
}

// waitInterest waits until n leafnode connections of e carry interest in
// subject.
func waitInterest(t testing.TB, e *embedded, subject string, n int) {
	t.Helper()
	waitFor(t, 10*time.Second, func() bool {
		lz, err := e.Server().Leafz(&server.LeafzOptions{Subscriptions: true})
		if err != nil {
			return false
		}
		got := 0
		for _, l := range lz.Leafs {
			if slices.Contains(l.Subs, subject) {
				got++
			}
		}
		return got >= n
	}, "%s: %d leafnodes interested in %s", e.Server().Name(), n, subject)
}

// waitWindows waits until r holds want.
func waitWindows(t testing.TB, name string, r *recorder, want []int) {
	t.Helper()
	// Generous: a viewer cut off on a starved machine recovers its windows.
	deadline := time.Now().Add(30 * time.Second)
	for len(r.got()) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s: %d windows; got %v", name, len(want), r.got())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := r.got(); !slices.Equal(got, want) {
		t.Errorf("%s: got windows %v, want %v", name, got, want)
	}
}
