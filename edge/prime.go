package edge

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

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

// primeShare is how many of n upstream slots primes may hold at once:
// half, at least one.
func primeShare(n int) int { return max(1, n/2) }

// startPrime starts m's prime if a prime slot and an upstream slot are
// free; called with m.mu held, when no prime of m is under way.
func (e *Edge) startPrime(m *match) bool {
	if !e.takePrimeSlot() {
		e.m.primes.WithLabelValues("busy").Inc()
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.priming, m.cancel = true, cancel
	recovery.Go(e.log, panicUpstream, func() { e.prime(ctx, m) })
	return true
}

// takePrimeSlot takes a prime slot and an upstream slot, or neither.
func (e *Edge) takePrimeSlot() bool {
	select {
	case e.primes <- struct{}{}:
	default:
		return false
	}
	if e.takeSlot() {
		return true
	}
	<-e.primes
	return false
}

// prime reads m's latest stored swarm into its ring and answers the latest
// requests that waited for it.
func (e *Edge) prime(ctx context.Context, m *match) {
	defer func() { <-e.primes }()
	st, err := e.get(ctx, e.api(wire.LatestSwarmRequest(m.id)), nil)
	switch {
	case err == nil:
		e.m.primes.WithLabelValues("read").Inc()
	case errors.Is(err, context.Canceled):
		e.m.primes.WithLabelValues("canceled").Inc()
	default:
		e.m.primes.WithLabelValues("failed").Inc()
		e.primeErrors.warn(e.log, time.Now(), "reading matches' latest swarms", "err", err)
	}
	waiters, last := m.endPrime(st, err, e.cfg.RingSize)
	for _, w := range waiters {
		w(last, err)
	}
}

// endPrime ends a prime that read st (or failed with err): it returns the
// requests that waited and what to answer them.
func (m *match) endPrime(st *stored, err error, size int) ([]answer, *stored) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		if st != nil {
			m.ring = insertRing(m.ring, *st, size)
		}
		m.primed = true
	}
	m.cancel()
	m.priming, m.cancel = false, nil
	waiters := m.waiters
	m.waiters = nil
	return waiters, lastOf(m.ring)
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
// connection was lost (swarms may have been missed) and reads them again.
func (e *Edge) reprime() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.matches {
		if m.id != wildcard {
			e.forget(m)
		}
	}
}

// forget drops m's recent swarms and primes it again, unless a prime is
// under way.
func (e *Edge) forget(m *match) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring, m.primed = nil, false
	if !m.priming {
		e.startPrime(m)
	}
}

// sparseEvery is how often a sparseLog writes at most.
const sparseEvery = time.Minute

// sparseLog logs errors that viewers can cause at will (a match id they
// made up is one more failed prime) at most once per sparseEvery, with how
// many it left out since its last line.
type sparseLog struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (l *sparseLog) warn(log *slog.Logger, now time.Time, msg string, args ...any) {
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < sparseEvery {
		l.skipped++
		l.mu.Unlock()
		return
	}
	skipped := l.skipped
	l.last, l.skipped = now, 0
	l.mu.Unlock()
	log.Warn(msg, append(args, "left_out", skipped)...)
}
