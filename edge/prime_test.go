package edge

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// heldFor passes on the direct gets held by a stalling upstream that ask
// for match's latest swarm, and drops the others (primes of other
// matches), so that the upstream never stalls on a full channel.
func heldFor(t *testing.T, held <-chan *nats.Msg, match string) <-chan *nats.Msg {
	out := make(chan *nats.Msg, 1)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case m := <-held:
				if strings.HasSuffix(m.Subject, wire.LatestSwarmRequest(match)) {
					out <- m
				}
			}
		}
	}()
	return out
}

// TestPrimesBoundedByShareAndViewers: viewers choose which matches the
// edge primes (one direct get each), so primes are bounded. On an upstream
// that never answers: a viewer that subscribes to and unsubscribes from
// 2,000 fresh ids piles up no goroutines, and each prime ends with its
// match's last viewer, long before UpstreamTimeout; viewers holding 64
// fresh matches start primes on half the upstream slots only, and another
// viewer's request reaches the upstream on the other half.
func TestPrimesBoundedByShareAndViewers(t *testing.T) {
	up, held := startStallingUpstream(t)
	final := heldFor(t, held, "final")
	e, _ := startEdge(t, Config{NATSURL: up, UpstreamTimeout: time.Minute, OccupancyInterval: -1})
	inflight := func(n float64) func() bool {
		return func() bool { return testutil.ToFloat64(e.m.inflight) == n }
	}

	before := runtime.NumGoroutine()
	rc := dialRaw(t, e)
	rc.handshake()
	if err := rc.send([]byte(connectOp)); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		var b strings.Builder
		for j := range 50 {
			fmt.Fprintf(&b, "SUB emostream.live.x%d-%d 1\r\nUNSUB 1\r\n", i, j)
		}
		if err := rc.send([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
	}
	_ = rc.send([]byte("PING\r\n"))
	if got, _ := rc.until("PONG", 10*time.Second); !strings.Contains(got, "PONG") {
		t.Fatalf("no PONG: %q", got)
	}
	if grown := runtime.NumGoroutine() - before; grown > 100 {
		t.Errorf("2,000 fresh ids subscribed and left by one viewer: %d goroutines more, want a handful", grown)
	}
	testenv.WaitFor(t, 5*time.Second, "the churned matches' primes ended", inflight(0))

	e.primeRate = primeRate(DefaultMaxUpstreamRequests) // a second later (TestPrimesBoundedPerSecond)
	holders := watchMany(t, e, "held", 4, DefaultMaxSubscriptions)
	share := float64(DefaultMaxUpstreamRequests / 2)
	testenv.WaitFor(t, 5*time.Second, "primes on half the upstream slots", inflight(share))

	viewer := connect(t, e.URL())
	replies := make(chan *nats.Msg, 1)
	if _, err := viewer.ChanSubscribe("_INBOX.v.*", replies); err != nil {
		t.Fatal(err)
	}
	if err := viewer.PublishRequest(wire.LatestSwarmRequest("final"), "_INBOX.v.1", nil); err != nil {
		t.Fatal(err)
	}
	notFound(t, receive(t, final, "another viewer's request upstream"))
	if m := receive(t, replies, "the reply"); m.Header.Get("Status") != "404" {
		t.Fatalf("another viewer's latest request: %v, want the upstream's 404", m.Header)
	}

	for _, nc := range holders {
		nc.Close()
	}
	testenv.WaitFor(t, 5*time.Second, "every prime ended with its match's viewers", inflight(0))
}

// TestFailedPrimesLoggedSparsely: a prime that fails (here: the upstream
// never answers within UpstreamTimeout) is counted, but the log has one
// line a minute about them, whatever match ids viewers make up.
func TestFailedPrimesLoggedSparsely(t *testing.T) {
	up, _ := startStallingUpstream(t)
	logs := &testenv.LogBuffer{}
	e, _ := startEdge(t, Config{NATSURL: up, UpstreamTimeout: 50 * time.Millisecond, OccupancyInterval: -1,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	const matches = 2 * DefaultMaxSubscriptions
	watchMany(t, e, "made-up", 2, DefaultMaxSubscriptions)
	testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%d failed primes", matches), func() bool {
		return testutil.ToFloat64(e.m.primes.WithLabelValues("failed")) == matches
	})
	if n := strings.Count(logs.String(), "latest swarm"); n != 1 {
		t.Errorf("%d failed primes logged in %d lines, want 1", matches, n)
	}
}

// One viewer subscribing to and leaving fresh match ids as fast as it
// can: each prime is cancelled at once and frees its slot, but its direct
// get was sent, so primes are also bounded a second (primeRate); the rest
// are counted primes_total{result="limited"} and leave their matches
// unprimed (their latest requests go upstream within each viewer's cap).
// Without the rate one connection sent ~4,000 direct gets a second.
func TestPrimesBoundedPerSecond(t *testing.T) {
	up, _ := startStallingUpstream(t)
	e, _ := startEdge(t, Config{NATSURL: up, UpstreamTimeout: time.Minute, OccupancyInterval: -1})
	rc := dialRaw(t, e)
	rc.handshake()
	_ = rc.send([]byte(connectOp))
	const ids = 2000
	start := time.Now()
	for i := range ids / 16 {
		var sub, unsub strings.Builder
		for j := range 16 {
			fmt.Fprintf(&sub, "SUB emostream.live.churn%d-%d %d\r\n", i, j, j)
			fmt.Fprintf(&unsub, "UNSUB %d\r\n", j)
		}
		_ = rc.send([]byte(sub.String() + "PING\r\n"))
		if got, _ := rc.until("PONG", 10*time.Second); !strings.Contains(got, "PONG") {
			t.Fatalf("no PONG: %q", got)
		}
		rc.got.Reset()
		_ = rc.send([]byte(unsub.String()))
	}
	elapsed := time.Since(start)
	result := func(r string) float64 { return testutil.ToFloat64(e.m.primes.WithLabelValues(r)) }
	started := func() float64 { return result("read") + result("canceled") + result("failed") }
	testenv.WaitFor(t, 10*time.Second, "every fresh match's prime started and ended, or refused", func() bool {
		return started()+result("busy")+result("limited") == ids
	})
	share := float64(primeShare(DefaultMaxUpstreamRequests))
	if bound := 10*share + 10*share*(elapsed.Seconds()+1); started() > bound {
		t.Errorf("%v primes started for %d ids in %v, want at most %v (primeRate)", started(), ids, elapsed, bound)
	}
	if result("limited") == 0 {
		t.Errorf("no prime limited: %v started, %v busy in %v", started(), result("busy"), elapsed)
	}
}
