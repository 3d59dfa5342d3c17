package edge

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// follower is a viewer that follows contracts.md's gap recovery: it shows a
// swarm only if it is of its match and later than the last shown, and
// after a reconnect or a window jump it asks for the next stored swarms
// from the last shown sequence + 1.
type follower struct {
	t     testing.TB
	nc    *nats.Conn
	match string
	work  chan *nats.Msg // live swarms; nil: a reconnect

	mu      sync.Mutex
	shown   []int
	lastSeq uint64
	lastEnd time.Time
}

func follow(t testing.TB, url, match string) *follower {
	t.Helper()
	f := &follower{t: t, match: match, work: make(chan *nats.Msg, 1024)}
	f.nc = connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { f.work <- nil }))
	if _, err := f.nc.Subscribe(wire.LiveSubject(match), func(m *nats.Msg) { f.work <- m }); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { f.nc.Close(); close(f.work); <-done })
	go func() {
		defer close(done)
		for m := range f.work {
			f.handle(m)
		}
	}()
	if m, err := f.nc.Request(wire.LatestSwarmRequest(match), nil, 5*time.Second); err == nil {
		f.show(m)
	}
	return f
}

func (f *follower) handle(m *nats.Msg) {
	if m == nil {
		f.recover(0)
		return
	}
	var s wire.Swarm
	if json.Unmarshal(m.Data, &s) != nil {
		return
	}
	f.mu.Lock()
	gap := !f.lastEnd.IsZero() && s.WindowStart.After(f.lastEnd)
	f.mu.Unlock()
	if gap {
		f.recover(seqOf(m))
	}
	f.show(m)
}

// recover asks for the stored swarms after the last shown one, up to the
// live one at upTo (0: until 404).
func (f *follower) recover(upTo uint64) {
	for range 150 {
		f.mu.Lock()
		next := f.lastSeq + 1
		f.mu.Unlock()
		if upTo > 0 && next >= upTo {
			return
		}
		m, err := f.nc.Request(wire.SwarmsGet, wire.SwarmsAfter(f.match, next), 2*time.Second)
		if err != nil || m.Header.Get("Status") != "" {
			return
		}
		if !f.show(m) {
			return
		}
	}
}

// show shows a swarm if it is of the match and later than the last shown.
func (f *follower) show(m *nats.Msg) bool {
	var s wire.Swarm
	if json.Unmarshal(m.Data, &s) != nil || s.MatchID != f.match {
		return false
	}
	seq, _ := strconv.ParseUint(m.Header.Get(wire.SeqHeader), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.lastEnd.IsZero() && !s.WindowStart.After(f.lastEnd.Add(-time.Nanosecond)) {
		return seq > f.lastSeq // an old one: go on past it
	}
	f.shown = append(f.shown, windowOf(f.t, m.Data))
	f.lastSeq, f.lastEnd = max(f.lastSeq, seq), s.WindowEnd
	return true
}

func (f *follower) windows() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.shown)
}

func (f *follower) waitFor(t testing.TB, want []int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(f.windows()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // a poll interval
	}
	if got := f.windows(); !slices.Equal(got, want) {
		t.Fatalf("shown %v, want %v", got, want)
	}
}

// TestExactAcrossEdgeRestart: viewers that follow the gap-recovery rule see
// every window once, in order, across an edge restart.
func TestExactAcrossEdgeRestart(t *testing.T) {
	wd := startWorld(t)
	wd.publish(t, "m1", 0)
	addr := freeAddr(t)
	edgeAt := func() (*Edge, func()) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return startEdge(t, Config{NATSURL: wd.hub.ClientURL(), Listener: ln})
	}
	e, stop := edgeAt()
	var fs []*follower
	for range 3 {
		fs = append(fs, follow(t, e.URL(), "m1"))
	}
	publishAll(t, wd, "m1", 1, 3)
	for _, f := range fs {
		f.waitFor(t, seqs(0, 3))
	}
	stop()
	publishAll(t, wd, "m1", 4, 6)
	edgeAt()
	for _, f := range fs {
		testenv.WaitFor(t, 10*time.Second, "the reconnect", f.nc.IsConnected)
	}
	publishAll(t, wd, "m1", 7, 9)
	for _, f := range fs {
		f.waitFor(t, seqs(0, 9))
	}
}

// TestExactAcrossLeafRestart: the same across a restart of the leaf the
// edge reads from.
func TestExactAcrossLeafRestart(t *testing.T) {
	wd := startWorld(t)
	wd.publish(t, "m1", 0)
	cfg := fanout.LeafConfig{Name: "leaf-1", ClientListen: freeAddr(t), EdgePassword: "edge-secret"}
	leaf := startLeaf(t, wd, cfg)
	e, _ := startEdge(t, Config{NATSURL: leaf.EdgeUpstream(), Domain: fanout.HubDomain})
	var fs []*follower
	for range 3 {
		fs = append(fs, follow(t, e.URL(), "m1"))
	}
	testenv.WaitFor(t, 10*time.Second, "the leaf's interest", func() bool { return leafInterest(wd, "m1") })
	publishAll(t, wd, "m1", 1, 3)
	for _, f := range fs {
		f.waitFor(t, seqs(0, 3))
	}
	leaf.Shutdown()
	testenv.WaitFor(t, 10*time.Second, "the edge to notice", func() bool { return e.Ready() != nil })
	publishAll(t, wd, "m1", 4, 6)
	startLeaf(t, wd, cfg)
	testenv.WaitFor(t, 10*time.Second, "the edge's reconnect", func() bool { return e.Ready() == nil && leafInterest(wd, "m1") })
	publishAll(t, wd, "m1", 7, 9)
	for _, f := range fs {
		f.waitFor(t, seqs(0, 9))
	}
}

func publishAll(t testing.TB, wd *world, match string, from, to int) {
	t.Helper()
	for w := from; w <= to; w++ {
		wd.publish(t, match, w)
	}
}

// freeAddr is a loopback address free at the time of the call.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
