package chaos

import (
	"cmp"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// viewer is NATS WebSocket clients of the leaf (every leaf server's URL on
// a leaf cluster, tried in order, so that they share a server) that watch
// every match of the run the way a viewer of that match does: through
// fanout.Watcher, the viewer protocol's late join, live swarms and gap
// recovery (docs/api.md, "Viewer protocol"). A window counts as received
// when a watcher showed it; a window the stream holds but no watcher showed
// is one a real viewer missed. A connection watches at most
// matchesPerConn matches (a leaf allows a viewer 256 subscriptions).
type viewer struct {
	t      testing.TB
	url    string
	nc     *nats.Conn // the first connection; conns holds every one
	conns  []*nats.Conn
	onConn int // matches watched on the last of conns
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	watchers map[string]*fanout.Watcher
	got      map[string]int       // swarm Nats-Msg-Id → times shown
	gotAt    map[string]time.Time // match → when its first swarm was shown
	tails    map[string]bool      // match → a swarm with its tail event was shown
	last     map[string]time.Time // match → window_start of the last shown
	disorder int                  // swarms shown with a window not after the last shown
	latest   int                  // swarms shown by a late join
	how      map[string]shownAs   // swarm Nats-Msg-Id → how it was first shown
	restarts int                  // Watcher.Run ended with an error and was run again
	lastErr  string
}

// shownAs is how a window reached a viewer: its source, when the processor
// published it and when it was shown.
type shownAs struct {
	src           fanout.Source
	published, at time.Time
}

// shownSince tells how the windows published in [from, to) were shown:
// windows per source, and the longest time from publish to shown.
func (v *viewer) shownSince(from, to time.Time) (map[string]int, time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := map[string]int{}
	var worst time.Duration
	for _, h := range v.how {
		if h.published.Before(from) || !h.published.Before(to) {
			continue
		}
		n[h.src.String()]++
		worst = max(worst, h.at.Sub(h.published))
	}
	return n, worst
}

// matchesPerConn bounds the matches one viewer connection watches.
const matchesPerConn = 200

// viewerStats is what the watchers did, summed over matches.
type viewerStats struct {
	Matches                                         int
	Recovered, Unrecoverable, Dropped, Repeats, Req uint64
	Latest, Disorder, Restarts                      int
	LastErr                                         string
}

// startViewer connects the viewer; every match the ledger makes is watched
// from then on, before its first request is sent.
func (c *cluster) startViewer(l *ledger) *viewer {
	c.t.Helper()
	v := &viewer{t: c.t, url: cmp.Or(c.wsURL, "ws://"+c.addr["ws"]), watchers: map[string]*fanout.Watcher{},
		got: map[string]int{}, gotAt: map[string]time.Time{}, tails: map[string]bool{}, last: map[string]time.Time{},
		how: map[string]shownAs{}}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	c.t.Cleanup(func() {
		v.cancel()
		v.wg.Wait()
		for _, nc := range v.conns {
			nc.Close()
		}
	})
	nc, err := v.dial()
	if err != nil {
		c.t.Fatalf("viewer: %v", err)
	}
	v.nc = nc
	l.onMatch = v.watch
	return v
}

// dial adds a viewer connection.
func (v *viewer) dial() (*nats.Conn, error) {
	nc, err := nats.Connect(v.url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.DontRandomize(),
		nats.RetryOnFailedConnect(true)) // a connection opened while the leaf is down connects once it is back
	if err != nil {
		return nil, err
	}
	v.conns, v.onConn = append(v.conns, nc), 0
	return nc, nil
}

// conn is the connection for one more match. Called with mu held.
func (v *viewer) conn() *nats.Conn {
	if v.onConn >= matchesPerConn {
		if _, err := v.dial(); err != nil {
			v.t.Errorf("viewer connection %d: %v", len(v.conns)+1, err)
			v.onConn = 0 // go on with the last one, over its limit
		}
	}
	v.onConn++
	return v.conns[len(v.conns)-1]
}

// watch starts watching match (once) and returns when its watcher has
// subscribed to the live subject.
func (v *viewer) watch(match string) {
	v.mu.Lock()
	if v.watchers[match] != nil {
		v.mu.Unlock()
		return
	}
	w, err := fanout.NewWatcher(v.conn(), fanout.WatchConfig{Match: match,
		OnSwarm: func(b []byte, src fanout.Source) { v.shown(match, b, src) }})
	if err != nil {
		panic(err) // the harness's match ids are valid
	}
	v.watchers[match] = w
	v.mu.Unlock()
	v.wg.Go(func() { v.run(w) })
	// Run subscribes before its first stored read (the late join).
	testenv.Until(5*time.Second, func() bool { return w.Stats().Requests.Load() > 0 })
}

// run runs w until the viewer stops, again after an error (a stored read
// that failed while connected ends Run), as a viewer's client retries; the
// watcher keeps its last shown swarm, so the next run recovers from it.
func (v *viewer) run(w *fanout.Watcher) {
	for {
		err := w.Run(v.ctx)
		if v.ctx.Err() != nil {
			return
		}
		v.mu.Lock()
		v.restarts++
		if err != nil {
			v.lastErr = err.Error()
		}
		v.mu.Unlock()
		select { // retry pacing
		case <-v.ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// shown records a swarm a watcher showed.
func (v *viewer) shown(match string, b []byte, src fanout.Source) {
	sw, err := wire.DecodeSwarm(b)
	if err != nil {
		return // the watcher checked it; counted as missed if it was a window
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.got[sw.MsgID()]++
	if _, ok := v.how[sw.MsgID()]; !ok {
		v.how[sw.MsgID()] = shownAs{src: src, published: sw.PublishedAt, at: time.Now()}
	}
	if src == fanout.SourceLatest {
		v.latest++
	}
	if last, ok := v.last[match]; ok && !sw.WindowStart.After(last) {
		v.disorder++
	}
	v.last[match] = sw.WindowStart
	if _, ok := v.gotAt[match]; !ok {
		v.gotAt[match] = time.Now()
	}
	if sw.Counts[tailEmoji] > 0 {
		v.tails[match] = true
	}
}

// seen reports when the viewer first showed a swarm of match.
func (v *viewer) seen(match string) (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.gotAt[match]
	return t, ok
}

// tailSeen reports whether a swarm with match's tail event was shown.
func (v *viewer) tailSeen(match string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tails[match]
}

func (v *viewer) deliveries() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.got))
	for k, n := range v.got {
		out[k] = n
	}
	return out
}

func (v *viewer) stats() viewerStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := viewerStats{Matches: len(v.watchers), Latest: v.latest, Disorder: v.disorder, Restarts: v.restarts, LastErr: v.lastErr}
	for _, w := range v.watchers {
		s := w.Stats()
		st.Recovered += s.Recovered.Load()
		st.Unrecoverable += s.Unrecoverable.Load()
		st.Dropped += s.Dropped.Load()
		st.Repeats += s.Repeats.Load()
		st.Req += s.Requests.Load()
	}
	return st
}
