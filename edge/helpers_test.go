package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/fanout/fanouttest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// world is a hub with the swarm stream and a stage connection to publish
// swarms.
type world struct {
	hub *fanout.Hub
	js  jetstream.JetStream
}

func startWorld(t testing.TB) *world {
	t.Helper()
	h, js := fanouttest.StartHub(t)
	return &world{hub: h, js: js}
}

// window is the start of window w (2 s windows from a fixed origin).
func window(w int) time.Time {
	return time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC).Add(time.Duration(w) * 2 * time.Second)
}

func swarmBody(match string, w int) []byte {
	b, _ := json.Marshal(wire.Swarm{MatchID: match, WindowStart: window(w), WindowEnd: window(w + 1),
		Counts: map[string]int64{"🔥": int64(1000 + w)}, Total: int64(1000 + w)})
	return b
}

// publish stores the swarm of window w of match and returns its sequence.
func (wd *world) publish(t testing.TB, match string, w int) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := wd.js.Publish(ctx, wire.SwarmSubject(match), swarmBody(match, w))
	if err != nil {
		t.Fatalf("publishing %s/%d: %v", match, w, err)
	}
	return ack.Sequence
}

// startEdge runs an edge until the test ends or stop is called; each of
// setup runs on the edge before it serves.
func startEdge(t testing.TB, cfg Config, setup ...func(*Edge)) (e *Edge, stop func()) {
	t.Helper()
	if cfg.Listener == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Listener = ln
	}
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(t)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	testenv.WaitFor(t, 10*time.Second, "the edge's upstream connection", func() bool { return e.Ready() == nil })
	return e, stop
}

func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// inbox collects the messages of one subscription.
type inbox struct {
	subject string
	mu      sync.Mutex
	msgs    []*nats.Msg
}

func (b *inbox) add(m *nats.Msg) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// windows are the window numbers received, in order.
func (b *inbox) windows(t testing.TB) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for _, m := range b.msgs {
		out = append(out, windowOf(t, m.Data))
	}
	return out
}

func windowOf(t testing.TB, body []byte) int {
	var s wire.Swarm
	if err := json.Unmarshal(body, &s); err != nil {
		t.Errorf("bad swarm %q: %v", body, err)
	}
	return int(s.WindowStart.Sub(window(0)) / (2 * time.Second))
}

func subscribe(t testing.TB, nc *nats.Conn, subject string) *inbox {
	t.Helper()
	b := &inbox{subject: subject}
	if _, err := nc.Subscribe(subject, b.add); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if match, ok := strings.CutPrefix(subject, wire.LiveSubject("")); ok && match != ">" {
		// The edge's answer to a latest request comes after its priming
		// direct get, which went upstream after its subscription to every
		// match (and, on a leaf, after the leaf's interest at the hub):
		// publishes from now on reach it.
		if _, err := nc.Request(wire.LatestSwarmRequest(match), nil, 5*time.Second); err != nil {
			t.Fatalf("latest of %s: %v", match, err)
		}
	}
	return b
}

// watchMany connects conns viewers to e, each subscribed to per matches
// of its own, named prefix<viewer>-<i>.
func watchMany(t testing.TB, e *Edge, prefix string, conns, per int) []*nats.Conn {
	t.Helper()
	var out []*nats.Conn
	for v := range conns {
		nc := connect(t, e.URL())
		for i := range per {
			if _, err := nc.Subscribe(wire.LiveSubject(fmt.Sprintf("%s%d-%d", prefix, v, i)), func(*nats.Msg) {}); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		out = append(out, nc)
	}
	return out
}

func seqHeaderOf(t testing.TB, m *nats.Msg) uint64 {
	t.Helper()
	seq, err := strconv.ParseUint(m.Header.Get(wire.SeqHeader), 10, 64)
	if err != nil {
		t.Fatalf("%s: no %s header: %v", m.Subject, wire.SeqHeader, m.Header)
	}
	return seq
}

func seqs(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}
