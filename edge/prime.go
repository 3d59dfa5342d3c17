package edge

import (
	"context"
	"errors"
	"time"

	"golang.org/x/time/rate"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/wire"
)

// A prime reads a match's latest stored swarm into its ring when the match
// gets its first viewer here (or a latest request finds it unprimed), so
// that latest and next requests are answered from the cache. Viewers
// choose the matches, so primes are bounded like their requests: a prime
// starts only if it finds, without waiting, one of primeShare prime slots
// and one of the MaxUpstreamRequests upstream slots (else the match stays
// unprimed, and its next latest request tries again); it ends after
// UpstreamTimeout, or as soon as its match loses its last viewer here. So
// primes run in at most primeShare goroutines and leave viewers' own
// requests at least the other half of the upstream slots, however fast
// viewers subscribe and unsubscribe.

// primeErrorsEvery is how often failed primes are logged at most: a match
// id a viewer made up is one more failed prime.
const primeErrorsEvery = time.Minute

// primeShare is how many of n upstream slots primes may hold at once:
// half, at least one.
func primeShare(n int) int { return max(1, n/2) }

// primeRate is how many primes a second may start, primeShare per 100 ms
// (a burst of as many): a viewer subscribing to and leaving fresh match
// ids cancels each prime at once and frees its slot, but the direct get
// was sent, so the slots alone bound primes in flight, not their rate.
func primeRate(n int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(10*primeShare(n)), 10*primeShare(n))
}

// startPrime starts m's prime if a prime slot and an upstream slot are
// free; called with m.mu held, when no prime of m is under way.
func (e *Edge) startPrime(m *match) bool {
	if ok, why := e.takePrimeSlot(); !ok {
		e.m.primes.WithLabelValues(why).Inc()
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.priming, m.cancel, m.primeGen = true, cancel, e.gen.Load()
	recovery.Go(e.log, panicUpstream, func() { e.prime(ctx, m) })
	return true
}

// takePrimeSlot takes a prime slot and an upstream slot, or neither, and
// says why not.
func (e *Edge) takePrimeSlot() (ok bool, why string) {
	select {
	case e.primes <- struct{}{}:
	default:
		return false, "busy"
	}
	if !e.primeRate.Allow() {
		<-e.primes
		return false, "limited"
	}
	if e.takeSlot() {
		return true, ""
	}
	<-e.primes
	return false, "busy"
}

// prime reads m's latest stored swarm into its ring and answers the latest
// requests that waited for it.
func (e *Edge) prime(ctx context.Context, m *match) {
	st, err := e.get(ctx, e.api(wire.LatestSwarmRequest(m.id)), nil)
	<-e.primes // free for the prime that a stale one starts again
	switch {
	case err == nil:
		e.m.primes.WithLabelValues("read").Inc()
	case errors.Is(err, context.Canceled):
		e.m.primes.WithLabelValues("canceled").Inc()
	default:
		e.m.primes.WithLabelValues("failed").Inc()
		if skipped, ok := e.primeErrors.Allow(time.Now(), primeErrorsEvery); ok {
			e.log.Warn("reading matches' latest swarms", "err", err, "left_out", skipped)
		}
	}
	waiters, last := e.endPrime(m, st, err)
	for _, w := range waiters {
		w(last, err)
	}
}

// endPrime ends m's prime, which read st (or failed with err): it returns
// the requests that waited and what to answer them. A prime of an older
// connection generation is stale (it may have read its latest before
// swarms the edge missed): it primes nothing, and a new one starts, which
// the waiters then wait for (else they get the stale answer, a stored
// swarm all the same). A prime that read a swarm keeps of the ring only
// what follows it, and makes older live swarms duplicates: those still
// queued from before a break would leave a hole in the ring.
func (e *Edge) endPrime(m *match, st *stored, err error) ([]answer, *stored) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cancel()
	m.priming, m.cancel = false, nil
	if m.primeGen != e.gen.Load() {
		if !m.gone && e.startPrime(m) {
			return nil, nil
		}
		waiters := m.waiters
		m.waiters = nil
		return waiters, st
	}
	if err == nil {
		if st != nil {
			m.ring = insertRing(dropBefore(m.ring, st.seq), *st, e.cfg.RingSize)
			m.lastSeq = max(m.lastSeq, st.seq)
		}
		m.primed = true
	}
	waiters := m.waiters
	m.waiters = nil
	return waiters, lastOf(m.ring)
}

// dropBefore keeps the entries of ring from sequence seq on.
func dropBefore(ring []stored, seq uint64) []stored {
	i := 0
	for i < len(ring) && ring[i].seq < seq {
		i++
	}
	return append(ring[:0], ring[i:]...)
}

// drop marks m gone from Edge.matches and ends its prime.
func (m *match) drop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gone = true
	if m.cancel != nil {
		m.cancel()
	}
}

// reprime forgets every match's recent swarms after the upstream
// connection was lost or dropped live swarms (swarms may have been
// missed), in a new connection generation, and reads them again.
func (e *Edge) reprime() {
	e.gen.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.matches {
		if m.id != wildcard {
			e.forget(m)
		}
	}
}

// forget drops m's recent swarms and primes it again: a prime under way of
// an older generation is canceled, and its end starts the new one.
func (e *Edge) forget(m *match) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring, m.primed = nil, false
	switch {
	case !m.priming:
		e.startPrime(m)
	case m.primeGen != e.gen.Load():
		m.cancel()
	}
}
