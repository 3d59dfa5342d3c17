package fanout

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// watched is a Watcher running until the test ends, with what it showed.
type watched struct {
	*Watcher
	r      *recorder
	mu     sync.Mutex
	srcs   []Source
	gaps   []Gap
	cancel func()
}

func startWatcher(t *testing.T, nc *nats.Conn, match string) *watched {
	t.Helper()
	w := &watched{r: &recorder{}}
	add := w.r.add(t)
	var err error
	w.Watcher, err = NewWatcher(nc, WatchConfig{Match: match,
		OnSwarm: func(b []byte, src Source) {
			add(b, src != SourceLive)
			w.mu.Lock()
			w.srcs = append(w.srcs, src)
			w.mu.Unlock()
		},
		OnGap: func(g Gap) { w.mu.Lock(); w.gaps = append(w.gaps, g); w.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	w.cancel = runWatcher(t, w.Watcher)
	return w
}

// runWatcher runs w until stop is called or the test ends.
func runWatcher(t *testing.T, w *Watcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// errorsTo is an OnError that sends to errs, dropping what does not fit.
func errorsTo(errs chan<- error) func(error) {
	return func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
}

func (w *watched) gapList() []Gap {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.gaps)
}

// waitLast waits until the last window shown is want.
func (w *watched) waitLast(t *testing.T, want int) {
	t.Helper()
	waitFor(t, 15*time.Second, func() bool { g := w.r.got(); return len(g) > 0 && g[len(g)-1] == want },
		"window %d shown (got %v)", want, w.r.got())
}

// wantAll checks that windows 1…n were shown once each, in order, and no
// gap reported.
func (w *watched) wantAll(t *testing.T, n int) {
	t.Helper()
	if got := w.r.got(); !slices.Equal(got, span(1, n)) {
		t.Errorf("windows %v, want 1…%d once each", got, n)
	}
	if g := w.gapList(); len(g) != 0 {
		t.Errorf("gaps %+v, want none", g)
	}
}

func span(from, to int) []int {
	var out []int
	for w := from; w <= to; w++ {
		out = append(out, w)
	}
	return out
}

// TestWatchRecoversAcrossLeafRestart: a viewer whose leaf restarts while
// swarms are published gets every window once, in order; those published
// while it was away are read back with "next" through the leaf.
func TestWatchRecoversAcrossLeafRestart(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	cfg := leafConfig("leaf-a", h.LeafRemote(), false)
	l := startLeaf(t, cfg)
	nc := connect(t, l.WebSocketURL(), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	w := startWatcher(t, nc, "final")
	waitInterest(t, h.embedded, wire.LiveSubject("final"), 1)
	for i := 1; i <= 3; i++ {
		publishSwarm(t, js, "final", i)
	}
	w.waitLast(t, 3)

	l.Shutdown()
	for i := 4; i <= 8; i++ { // the viewer's leaf is down
		publishSwarm(t, js, "final", i)
	}
	cfg.WebSocketListen = l.WebSocketURL()[len("ws://"):]
	startLeaf(t, cfg)
	w.waitLast(t, 8)
	waitInterest(t, h.embedded, wire.LiveSubject("final"), 1)
	publishSwarm(t, js, "final", 9)
	w.waitLast(t, 9)
	if got := w.r.got(); !slices.Equal(got, span(1, 9)) {
		t.Errorf("windows %v, want 1…9 once each", got)
	}
	if n := w.Stats().Recovered.Load(); n < 4 {
		t.Errorf("recovered %d, want at least windows 4…7", n)
	}
	if g := w.gapList(); len(g) != 0 {
		t.Errorf("gaps %+v, want none", g)
	}
}

// TestWatchRecoversAcrossBlip: a viewer whose connection is cut (a proxy
// drops it and refuses new ones for a while) gets every window once.
func TestWatchRecoversAcrossBlip(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	p, nc := proxiedViewer(t, h)
	w := startWatcher(t, nc, "final")
	publishSwarm(t, js, "final", 1) // stored before the first live one: late join or live
	w.waitLast(t, 1)
	publishSwarm(t, js, "final", 2)
	w.waitLast(t, 2)

	p.cutAndWait(t, nc)
	for i := 3; i <= 6; i++ {
		publishSwarm(t, js, "final", i)
		publishSwarm(t, js, "other", i) // another match interleaved in the stream
	}
	p.heal()
	w.waitLast(t, 6)
	publishSwarm(t, js, "final", 7)
	w.waitLast(t, 7)
	if got := w.r.got(); !slices.Equal(got, span(1, 7)) {
		t.Errorf("windows %v, want 1…7 once each", got)
	}
	if n := w.Stats().Recovered.Load(); n != 4 {
		t.Errorf("recovered %d, want 4 (windows 3…6)", n)
	}
}

// TestWatchFillsLiveGap: a live swarm that starts after the last shown
// window ended makes the viewer read the stored ones between first. The
// stream here does not RePublish; the test publishes the live subject as
// the stream would, with Nats-Sequence.
func TestWatchFillsLiveGap(t *testing.T) {
	h := startHub(t)
	nc := connect(t, h.ClientURL())
	js := plainStream(t, nc, 300)
	w := startWatcher(t, connect(t, h.ClientURL()), "final")
	waitViewer(t, h, "final")
	seqs := map[int]uint64{}
	for i := 1; i <= 5; i++ {
		seqs[i] = storeOnly(t, js, "final", i)
		storeOnly(t, js, "other", i)
	}
	publishLive(t, nc, "final", 1, seqs[1])
	w.waitLast(t, 1)
	publishLive(t, nc, "final", 5, seqs[5]) // 2…4 went missing on the live path
	w.waitLast(t, 5)
	if got := w.r.got(); !slices.Equal(got, span(1, 5)) {
		t.Errorf("windows %v, want 1…5", got)
	}
	w.mu.Lock()
	srcs := slices.Clone(w.srcs)
	w.mu.Unlock()
	want := []Source{SourceLive, SourceRecovered, SourceRecovered, SourceRecovered, SourceLive}
	if !slices.Equal(srcs, want) {
		t.Errorf("sources %v, want %v", srcs, want)
	}
}

// TestWatchDropsForged: a swarm of another match, or of a window not newer
// than the last shown, on the watched match's live subject is dropped and
// counted, and the viewer goes on.
func TestWatchDropsForged(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	nc := connect(t, h.ClientURL())
	w := startWatcher(t, connect(t, h.ClientURL()), "final")
	publishSwarm(t, js, "final", 5)
	w.waitLast(t, 5)
	for _, body := range [][]byte{swarmBody("other", 9), swarmBody("final", 3), swarmBody("final", 5), []byte("not json")} {
		if err := nc.Publish(wire.LiveSubject("final"), body); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return w.Stats().Dropped.Load() == 4 }, "4 dropped (got %d)", w.Stats().Dropped.Load())
	publishSwarm(t, js, "final", 6)
	w.waitLast(t, 6)
	if got := w.r.got(); !slices.Equal(got, []int{5, 6}) {
		t.Errorf("windows %v, want [5 6]", got)
	}
}

// TestWatchReportsUnrecoverable: windows the stream no longer holds (its
// per-match limit dropped them while the viewer was cut off) are reported
// as one gap; the ones it holds are recovered.
func TestWatchReportsUnrecoverable(t *testing.T) {
	h := startHub(t)
	js := plainStream(t, connect(t, h.ClientURL()), 3)
	p, nc := proxiedViewer(t, h)
	storeOnly(t, js, "final", 1)
	w := startWatcher(t, nc, "final")
	w.waitLast(t, 1) // late join
	p.cutAndWait(t, nc)
	for i := 2; i <= 8; i++ { // the stream keeps 6, 7, 8
		storeOnly(t, js, "final", i)
	}
	p.heal()
	w.waitLast(t, 8)
	if got := w.r.got(); !slices.Equal(got, []int{1, 6, 7, 8}) {
		t.Errorf("windows %v, want [1 6 7 8]", got)
	}
	g := w.gapList()
	if len(g) != 1 || !g[0].From.Equal(window(2)) || !g[0].To.Equal(window(6)) || g[0].Windows != 4 || g[0].Reason != "no longer stored" {
		t.Errorf("gaps %+v, want one of windows 2…5 (4), no longer stored", g)
	}
	if s := w.Stats(); s.Unrecoverable.Load() != 4 || s.Recovered.Load() != 3 {
		t.Errorf("unrecoverable %d recovered %d, want 4 and 3", s.Unrecoverable.Load(), s.Recovered.Load())
	}
}

// TestWatchRecoveryBound: a recovery stops after MaxRecovery requests,
// reports the rest as a gap and ends on the latest window.
func TestWatchRecoveryBound(t *testing.T) {
	h := startHub(t)
	js := plainStream(t, connect(t, h.ClientURL()), 300)
	p, nc := proxiedViewer(t, h)
	storeOnly(t, js, "final", 1)
	var gaps []Gap
	var mu sync.Mutex
	w, err := NewWatcher(nc, WatchConfig{Match: "final", MaxRecovery: 3, OnSwarm: func([]byte, Source) {},
		OnGap: func(g Gap) { mu.Lock(); gaps = append(gaps, g); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, func() bool { return w.Stats().Shown.Load() == 1 }, "late join")
	p.cutAndWait(t, nc)
	for i := 2; i <= 10; i++ {
		storeOnly(t, js, "final", i)
	}
	p.heal()
	// 3 requests: the anchor (window 1), then windows 2 and 3; then latest 10.
	waitFor(t, 10*time.Second, func() bool { return w.Stats().Shown.Load() == 4 }, "recovery")
	mu.Lock()
	defer mu.Unlock()
	if len(gaps) != 1 || !gaps[0].From.Equal(window(4)) || !gaps[0].To.Equal(window(10)) || gaps[0].Windows != 6 {
		t.Errorf("gaps %+v, want windows 4…9", gaps)
	}
}

// plainStream creates EMOSTREAM_SWARMS without RePublish, keeping perMatch
// swarms per match.
func plainStream(t *testing.T, nc *nats.Conn, perMatch int64) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = js.CreateStream(context.Background(), jetstream.StreamConfig{Name: wire.SwarmsStream,
		Subjects: []string{wire.SwarmsSubjects}, AllowDirect: true, MaxMsgsPerSubject: perMatch})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// storeOnly stores the swarm of window i and returns its sequence.
func storeOnly(t *testing.T, js jetstream.JetStream, match string, i int) uint64 {
	t.Helper()
	ack, err := js.Publish(context.Background(), wire.SwarmSubject(match), swarmBody(match, i))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// publishLive sends window i on the live subject as the stream's RePublish
// would.
func publishLive(t *testing.T, nc *nats.Conn, match string, i int, seq uint64) {
	t.Helper()
	msg := nats.NewMsg(wire.LiveSubject(match))
	msg.Data = swarmBody(match, i)
	msg.Header.Set(wire.SeqHeader, strconv.FormatUint(seq, 10))
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
}

// waitViewer waits until the hub's stage account has a subscriber to
// match's live subject.
func waitViewer(t *testing.T, h *Hub, match string) {
	t.Helper()
	waitFor(t, 5*time.Second, func() bool {
		acc, err := h.Server().LookupAccount("STAGES")
		return err == nil && acc.SubscriptionInterest(wire.LiveSubject(match))
	}, "a viewer of %s", match)
}

// proxy forwards TCP to a server; cut closes its connections and refuses
// new ones until heal.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	down   bool
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// proxiedViewer connects to h through a proxy, reconnecting at once.
func proxiedViewer(t *testing.T, h *Hub) (*proxy, *nats.Conn) {
	p := startProxy(t, h.ClientURL()[len("nats://"):])
	return p, connect(t, "nats://"+p.addr(), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
}

// cutAndWait cuts the proxy and waits until nc noticed.
func (p *proxy) cutAndWait(t *testing.T, nc *nats.Conn) {
	t.Helper()
	p.cut()
	waitFor(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "the viewer disconnected")
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// BenchmarkWatchRecovery: one recovery of 100 missed windows by a viewer on
// a leaf (each a "next" direct get forwarded to the hub), as after a
// reconnect; reports the time per recovered window.
func BenchmarkWatchRecovery(b *testing.B) {
	const missed = 100
	h := startHub(b)
	js := stageJS(b, h)
	l := startLeaf(b, leafConfig("leaf-a", h.LeafRemote(), false))
	for i := 1; i <= missed+1; i++ {
		publishSwarm(b, js, "final", i)
	}
	shown := 0
	w, err := NewWatcher(connect(b, l.WebSocketURL()), WatchConfig{Match: "final", OnSwarm: func([]byte, Source) { shown++ }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		w.lastSeq, w.lastStart, w.lastEnd = 1, window(1), window(2)
		shown = 0
		if err := w.catchUp(ctx, 0); err != nil {
			b.Fatal(err)
		}
		if shown != missed {
			b.Fatalf("recovered %d windows, want %d", shown, missed)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*missed), "µs/window")
}

// TestWatchQuietGap: windows without a swarm (a quiet match) cost no
// request: the live swarm's Nats-Last-Sequence, set by the stream's
// RePublish, names the last shown one.
func TestWatchQuietGap(t *testing.T) {
	_, js, w := watchingOne(t)
	publishSwarm(t, js, "other", 2)
	before := w.Stats().Requests.Load()
	publishSwarm(t, js, "final", 5) // windows 2…4 had no reactions
	w.waitLast(t, 5)
	if n := w.Stats().Requests.Load() - before; n != 0 {
		t.Errorf("%d requests for a quiet gap, want 0", n)
	}
	if g := w.gapList(); len(g) != 0 {
		t.Errorf("gaps %+v for a quiet stretch, want none", g)
	}

	// Swarms stored but never live (RePublish off for a while) are read
	// back: the next live one's Nats-Last-Sequence names the last of them.
	setRePublish(t, js, false)
	publishSwarm(t, js, "final", 6)
	publishSwarm(t, js, "final", 7)
	setRePublish(t, js, true)
	publishSwarm(t, js, "final", 8)
	w.waitLast(t, 8)
	if got := w.r.got(); !slices.Equal(got, []int{1, 5, 6, 7, 8}) {
		t.Errorf("windows %v, want [1 5 6 7 8]", got)
	}
}

// watchingOne starts a hub and a viewer of "final" on it that was shown
// window 1, live.
func watchingOne(t *testing.T) (*Hub, jetstream.JetStream, *watched) {
	t.Helper()
	h := startHub(t)
	js := stageJS(t, h)
	w := startWatcher(t, connect(t, h.ClientURL()), "final")
	waitViewer(t, h, "final")
	publishSwarm(t, js, "final", 1)
	w.waitLast(t, 1)
	return h, js, w
}

// setRePublish turns the swarm stream's RePublish to the live subjects on
// or off.
func setRePublish(t *testing.T, js jetstream.JetStream, on bool) {
	t.Helper()
	updateSwarms(t, js, func(cfg *jetstream.StreamConfig) {
		cfg.RePublish = nil
		if on {
			cfg.RePublish = &jetstream.RePublish{Source: wire.SwarmsSubjects, Destination: wire.LiveSubjects}
		}
	})
}

// updateSwarms changes the swarm stream's configuration with change.
func updateSwarms(t *testing.T, js jetstream.JetStream, change func(*jetstream.StreamConfig)) {
	t.Helper()
	s, err := js.Stream(context.Background(), wire.SwarmsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	change(&cfg)
	if _, err := js.UpdateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// TestWatchRecoveryInterrupted: the connection drops in the middle of a
// recovery, long enough for a read to fail; the reconnect goes on from the
// last shown window, and every window is shown once, in order.
func TestWatchRecoveryInterrupted(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	p, nc := proxiedViewer(t, h)
	errs := make(chan error, 10)
	var once sync.Once
	r := &recorder{}
	add := r.add(t)
	w, err := NewWatcher(nc, WatchConfig{Match: "final",
		OnSwarm: func(b []byte, src Source) {
			add(b, src != SourceLive)
			if src == SourceRecovered {
				once.Do(p.cut) // cut during the recovery
			}
		},
		OnError: errorsTo(errs)})
	if err != nil {
		t.Fatal(err)
	}
	w.timeout = 200 * time.Millisecond
	runWatcher(t, w)
	publishSwarm(t, js, "final", 1)
	waitFor(t, 10*time.Second, func() bool { return slices.Equal(r.got(), []int{1}) }, "window 1")
	p.cutAndWait(t, nc)
	for i := 2; i <= 8; i++ {
		publishSwarm(t, js, "final", i)
	}
	p.heal()
	select {
	case err := <-errs:
		t.Logf("read failed while cut: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no read failed while the proxy was cut")
	}
	p.heal()
	waitFor(t, 10*time.Second, func() bool { g := r.got(); return g[len(g)-1] == 8 }, "window 8 (got %v)", r.got())
	if got := r.got(); !slices.Equal(got, span(1, 8)) {
		t.Errorf("windows %v, want 1…8 once each", got)
	}
	if n := w.Stats().Gaps.Load(); n != 0 {
		t.Errorf("%d gaps, want none", n)
	}
}

// TestWatchJoinedEmpty: a viewer that joined before the match's first
// swarm and missed the first ones on the live path (stored, not
// republished) reads them back when the next live one arrives: its
// Nats-Last-Sequence says the match had swarms the viewer never saw.
func TestWatchJoinedEmpty(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	nc := connect(t, h.ClientURL())
	w := startWatcher(t, connect(t, h.ClientURL()), "final")
	waitViewer(t, h, "final")
	waitFor(t, 5*time.Second, func() bool { return w.Stats().Requests.Load() >= 1 }, "the join's latest get")
	if b, err := LatestSwarm(context.Background(), nc, "final"); err != nil || b != nil {
		t.Fatalf("latest before any swarm: %q, %v", b, err) // also: the join's get was answered before
	}
	setRePublish(t, js, false)
	publishSwarm(t, js, "final", 1)
	publishSwarm(t, js, "final", 2)
	setRePublish(t, js, true)
	publishSwarm(t, js, "final", 3)
	w.waitLast(t, 3)
	w.wantAll(t, 3)
}

// TestWatchJoinRetried: a viewer whose late join got no answer (no stream
// reachable yet) reads it again, so the swarm stored meanwhile, never live,
// is shown.
func TestWatchJoinRetried(t *testing.T) {
	h := startHub(t)
	w := startWatcher(t, connect(t, h.ClientURL()), "final")
	waitViewer(t, h, "final")
	waitFor(t, 5*time.Second, func() bool { return w.Stats().Requests.Load() >= 1 }, "the join's latest get")
	js := stageJS(t, h)
	setRePublish(t, js, false)
	publishSwarm(t, js, "final", 1)
	w.waitLast(t, 1)
	setRePublish(t, js, true)
	publishSwarm(t, js, "final", 2)
	w.waitLast(t, 2)
	if got := w.r.got(); !slices.Equal(got, span(1, 2)) {
		t.Errorf("windows %v, want 1…2", got)
	}
}

// TestWatchRecoveryUnanswered: a recovery whose direct gets get no
// responders (the stream's direct gets are off for a while, as on a leaf
// whose path to them is down) declares no window lost: the live swarms
// wait, and once the gets are answered again every window is shown once,
// in order.
func TestWatchRecoveryUnanswered(t *testing.T) {
	h, js, w := watchingOne(t)

	setDirect(t, js, false)
	if _, _, err := nextSwarm(context.Background(), connect(t, h.ClientURL()), "final", 1, getTimeout); !errors.Is(err, errNoStream) {
		t.Fatalf("next with direct gets off: %v, want no responders", err)
	}
	setRePublish(t, js, false)
	publishSwarm(t, js, "final", 2) // stored, never live: 3 starts a recovery
	setRePublish(t, js, true)
	before := w.Stats().Requests.Load()
	publishSwarm(t, js, "final", 3)
	publishSwarm(t, js, "final", 4)
	waitFor(t, 10*time.Second, func() bool { return w.Stats().Requests.Load() >= before+3 || len(w.r.got()) > 1 },
		"the recovery read again (or windows shown)")
	if got, g := w.r.got(), w.gapList(); !slices.Equal(got, []int{1}) || len(g) != 0 {
		t.Fatalf("windows %v, gaps %+v while the stream did not answer, want [1] and none", got, g)
	}

	setDirect(t, js, true)
	w.waitLast(t, 4)
	publishSwarm(t, js, "final", 5)
	w.waitLast(t, 5)
	w.wantAll(t, 5)
}

// setDirect turns the swarm stream's direct gets on or off.
func setDirect(t *testing.T, js jetstream.JetStream, on bool) {
	t.Helper()
	updateSwarms(t, js, func(cfg *jetstream.StreamConfig) { cfg.AllowDirect = on })
}

// TestWatchWaitingBound: while a recovery gets no answer, at most
// MaxWaiting live swarms wait; one more, and the windows it was for are
// reported as a gap and the waiting swarms shown.
func TestWatchWaitingBound(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	r := &recorder{}
	add := r.add(t)
	var mu sync.Mutex
	var gaps []Gap
	errs := make(chan error, 100)
	w, err := NewWatcher(connect(t, h.ClientURL()), WatchConfig{Match: "final", MaxWaiting: 2,
		OnSwarm: func(b []byte, src Source) { add(b, src != SourceLive) },
		OnGap:   func(g Gap) { mu.Lock(); gaps = append(gaps, g); mu.Unlock() },
		OnError: errorsTo(errs)})
	if err != nil {
		t.Fatal(err)
	}
	runWatcher(t, w)
	waitViewer(t, h, "final")
	publishSwarm(t, js, "final", 1)
	waitFor(t, 10*time.Second, func() bool { return slices.Equal(r.got(), []int{1}) }, "window 1")

	setDirect(t, js, false)
	setRePublish(t, js, false)
	publishSwarm(t, js, "final", 2)
	setRePublish(t, js, true)
	publishSwarm(t, js, "final", 3)
	if err := <-errs; !errors.Is(err, errNoStream) {
		t.Errorf("OnError got %v, want no responders", err)
	}
	publishSwarm(t, js, "final", 4)
	publishSwarm(t, js, "final", 5) // the third waiting
	waitFor(t, 10*time.Second, func() bool { return len(r.got()) == 4 }, "windows 3…5 (got %v)", r.got())
	if got := r.got(); !slices.Equal(got, []int{1, 3, 4, 5}) {
		t.Errorf("windows %v, want [1 3 4 5]", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gaps) != 1 || !gaps[0].From.Equal(window(2)) || gaps[0].Windows != 1 || gaps[0].Reason != "stream not answering (3 live swarms waited)" {
		t.Errorf("gaps %+v, want window 2, stream not answering", gaps)
	}
}

// A match id that is not one subject token is refused before anything is
// read, naming the setting, with the rule of wire.CheckMatchID.
func TestNewWatcherRefusesBadMatch(t *testing.T) {
	for _, m := range []string{"", "a b", "a.b", "a>"} {
		_, err := NewWatcher(nil, WatchConfig{Match: m, OnSwarm: func([]byte, Source) {}})
		if !errors.Is(err, ErrBadMatch) || !errors.Is(err, ErrConfig) || err.Error() != "fanout: invalid config: Match "+wire.CheckMatchID(m).Error() {
			t.Errorf("match %q: %v, want ErrBadMatch with the rule", m, err)
		}
	}
}

// TestWatchSlowConsumer: a viewer that falls so far behind that nats.go
// drops live swarms (a slow consumer: 64 MiB pending) reads them back from
// the stream, as after a reconnect, and goes on watching.
func TestWatchSlowConsumer(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	slow := make(chan struct{}, 1)
	nc := connect(t, h.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			select {
			case slow <- struct{}{}:
			default:
			}
		}
	}))
	release := make(chan struct{})
	r := &recorder{}
	add := r.add(t)
	w, err := NewWatcher(nc, WatchConfig{Match: "final", OnSwarm: func(b []byte, src Source) {
		add(b, src != SourceLive)
		if windowOf(t, b) == 1 {
			<-release // the viewer stalls on its first swarm
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	runWatcher(t, w)
	waitViewer(t, h, "final")
	publishSwarm(t, js, "final", 1)
	waitFor(t, 10*time.Second, func() bool { return len(r.got()) == 1 }, "window 1 shown")
	// Exactly the subscription's 64 MiB of pending bytes (nats.go's
	// default), then windows 2 and 3, which nats.go drops.
	pub := connect(t, h.ClientURL())
	junk := make([]byte, DefaultHubMaxPayload)
	for range nats.DefaultSubPendingBytesLimit / len(junk) {
		if err := pub.Publish(wire.LiveSubject("final"), junk); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	publishSwarm(t, js, "final", 2)
	publishSwarm(t, js, "final", 3)
	select {
	case <-slow:
	case <-time.After(30 * time.Second):
		t.Fatal("no slow consumer")
	}
	close(release)
	waitWindows(t, "the slow viewer", r, []int{1, 2, 3})
	publishSwarm(t, js, "final", 4)
	waitWindows(t, "the slow viewer, after", r, []int{1, 2, 3, 4})
}
