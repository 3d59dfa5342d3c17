package edge

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/emostream/emostream/internal/recovery"
)

// errTooManyMatches refuses a subscription to one match more than
// Config.MaxMatches.
var errTooManyMatches = errors.New("edge: too many matches")

// wildcard is the key of emostream.live.> in Edge.matches: the viewers of
// every match.
const wildcard = ">"

// sub is one viewer subscription.
type sub struct {
	s       *session
	sid     string
	subject string
	m       *match // nil for an inbox
	g       *group
	idx     int          // in g.subs
	left    atomic.Int64 // messages before an auto-unsubscribe; 0: no limit, -1: ran out
	got     int64        // an inbox's answers delivered, guarded by s.mu (a live subscription counts none)
}

// groupKey groups a match's subscribers that receive the same bytes: the
// MSG line carries the sid, and HMSG or MSG depends on the client.
type groupKey struct {
	sid     string
	headers bool
}

type group struct {
	key  groupKey
	subs []*sub
}

// stored is a swarm kept for requests.
type stored struct {
	seq  uint64
	data []byte
}

// match is one match's (or the wildcard's) viewers and recent swarms.
type match struct {
	id      string
	refs    int // subscriptions, guarded by Edge.mu
	viewers int // connections with one subscription or more, guarded by Edge.mu

	mu       sync.RWMutex
	groups   map[groupKey]*group
	ring     []stored // recent swarms, ascending sequence, received in one upstream connection generation
	primed   bool     // ring[0] is the latest stored swarm at subscription time (or the match has none)
	priming  bool     // a prime is under way, holding a prime slot and an upstream slot
	cancel   func()   // ends the prime under way
	primeGen uint64   // the connection generation (Edge.gen) the prime under way started in
	gone     bool     // dropped from Edge.matches: no prime starts
	lastSeq  uint64
	waiters  []answer // latest requests waiting for the prime under way
}

// join adds sb to its match's subscribers, priming the match's cache for
// its first one; first says sb is its connection's first subscription to
// the match (a new viewer).
func (e *Edge) join(sb *sub, id string, first bool) error {
	m, err := e.matchFor(id, first)
	if err != nil {
		return err
	}
	m.add(sb)
	return nil
}

// matchFor counts one more subscription to match id, and one more viewer
// if first, adding the match (and priming its cache) for its first.
func (e *Edge) matchFor(id string, first bool) (*match, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.matches[id]
	if m == nil {
		if len(e.matches) >= e.cfg.MaxMatches {
			return nil, errTooManyMatches
		}
		m = &match{id: id, groups: map[groupKey]*group{}}
		e.matches[id] = m
		e.m.matches.Set(float64(len(e.matches)))
		if id != wildcard {
			m.mu.Lock()
			e.startPrime(m)
			m.mu.Unlock()
		}
	}
	m.refs++
	if first {
		m.viewers++
	}
	return m, nil
}

// add puts sb in its group of m.
func (m *match) add(sb *sub) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := groupKey{sb.sid, sb.s.headers}
	g := m.groups[k]
	if g == nil {
		g = &group{key: k}
		m.groups[k] = g
	}
	sb.m, sb.g, sb.idx = m, g, len(g.subs)
	g.subs = append(g.subs, sb)
}

// leave removes sb, dropping its match after the match's last one; gone
// says sb was its connection's last subscription to the match.
func (e *Edge) leave(sb *sub, gone bool) {
	sb.m.remove(sb)
	e.dropRef(sb.m, gone)
}

// remove takes sb out of its group of m.
func (m *match) remove(sb *sub) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := sb.g
	last := len(g.subs) - 1
	g.subs[sb.idx] = g.subs[last]
	g.subs[sb.idx].idx = sb.idx
	g.subs[last] = nil
	g.subs = g.subs[:last]
	if len(g.subs) == 0 {
		delete(m.groups, g.key)
	}
}

// dropRef counts one subscription to m less, and one viewer less if gone,
// dropping m (and ending its prime) after the last.
func (e *Edge) dropRef(m *match, gone bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m.refs--
	if gone {
		m.viewers--
	}
	if m.refs == 0 {
		delete(e.matches, m.id)
		e.m.matches.Set(float64(len(e.matches)))
		m.drop()
	}
}

// remember keeps a live swarm in m's ring; false if m had it already.
func (m *match) remember(seq uint64, data []byte, size int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq <= m.lastSeq {
		return false
	}
	m.lastSeq = seq
	m.ring = insertRing(m.ring, stored{seq, data}, size)
	return true
}

// broadcastAll writes out to each group of m; it returns done with the
// subscriptions whose auto-unsubscribe count ran out appended.
func (e *Edge) broadcastAll(m *match, out *message, done []*sub) []*sub {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, g := range m.groups {
		done = e.broadcast(g, out.encode(g.key.sid, g.key.headers), done)
	}
	return done
}

// parallelFrom is the group size from which writes are spread over the
// CPUs.
const parallelFrom = 2048

// broadcast writes f to g's subscribers; it returns done with the
// subscriptions whose auto-unsubscribe count ran out appended.
func (e *Edge) broadcast(g *group, f []byte, done []*sub) []*sub {
	n := len(g.subs)
	parts := min(runtime.GOMAXPROCS(0), (n+parallelFrom-1)/parallelFrom)
	e.m.delivered.Add(float64(n))
	if parts <= 1 {
		return writeAll(g.subs, f, done)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for p := range parts {
		wg.Go(func() {
			defer recovery.Recover(e.log, panicUpstream, nil)
			d := writeAll(g.subs[p*n/parts:(p+1)*n/parts], f, nil)
			mu.Lock()
			defer mu.Unlock()
			done = append(done, d...)
		})
	}
	wg.Wait()
	return done
}

func writeAll(subs []*sub, f []byte, done []*sub) []*sub {
	for _, sb := range subs {
		deliver, last := sb.take()
		if !deliver {
			continue
		}
		if last {
			done = append(done, sb)
		}
		sb.s.write(f)
	}
	return done
}

// take counts one message for sb against its auto-unsubscribe limit:
// deliver says to write it, last that it was the limit's last (the
// subscription is then to be removed). Without a limit it is one load.
func (sb *sub) take() (deliver, last bool) {
	for {
		n := sb.left.Load()
		switch {
		case n == 0:
			return true, false
		case n < 0:
			return false, false
		}
		next := n - 1
		if next == 0 {
			next = -1
		}
		if sb.left.CompareAndSwap(n, next) {
			return true, next < 0
		}
	}
}

// insertRing adds st in sequence order unless the ring has it, keeping the
// last size entries.
func insertRing(ring []stored, st stored, size int) []stored {
	i := len(ring)
	for i > 0 && ring[i-1].seq >= st.seq {
		if ring[i-1].seq == st.seq {
			return ring
		}
		i--
	}
	ring = append(ring, stored{})
	copy(ring[i+1:], ring[i:])
	ring[i] = st
	if len(ring) > size {
		ring = append(ring[:0], ring[len(ring)-size:]...)
	}
	return ring
}
