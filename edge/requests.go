package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/wire"
)

// errBusy answers a request when MaxUpstreamRequests are in flight.
var errBusy = errors.New("edge: too many upstream requests")

// maxWaiters bounds the latest requests waiting for one match's cache.
const maxWaiters = 4096

// answer receives a request's swarm: nil for none (404), or an error.
type answer func(*stored, error)

// latest answers match's latest stored swarm, from the cache when the match
// has viewers here.
func (e *Edge) latest(id string, done answer) {
	e.mu.Lock()
	m := e.matches[id]
	e.mu.Unlock()
	if m == nil {
		e.m.requests.WithLabelValues("latest", "upstream").Inc()
		recovery.Go(e.log, panicUpstream, func() { done(e.fetch(e.api(wire.LatestSwarmRequest(id)), nil)) })
		return
	}
	last, ready, busy, start := m.latestOrWait(done)
	switch {
	case ready:
		e.m.requests.WithLabelValues("latest", "cache").Inc()
		done(last, nil)
	case busy:
		e.m.requests.WithLabelValues("latest", "busy").Inc()
		done(nil, errBusy)
	default:
		e.m.requests.WithLabelValues("latest", "cache").Inc()
		if start {
			recovery.Go(e.log, panicUpstream, func() { e.prime(m) })
		}
	}
}

// latestOrWait is m's latest swarm when m is primed (ready); else it
// queues done for m's prime (start: none is under way, start one), or
// refuses it (busy: maxWaiters wait already).
func (m *match) latestOrWait(done answer) (last *stored, ready, busy, start bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.primed:
		return lastOf(m.ring), true, false, false
	case len(m.waiters) >= maxWaiters:
		return nil, false, true, false
	}
	m.waiters = append(m.waiters, done)
	start = !m.priming
	m.priming = true
	return nil, false, false, start
}

func lastOf(ring []stored) *stored {
	if len(ring) == 0 {
		return nil
	}
	st := ring[len(ring)-1]
	return &st
}

// prime reads m's latest stored swarm into its ring and answers the latest
// requests that waited for it.
func (e *Edge) prime(m *match) {
	st, err := e.fetchWait(e.api(wire.LatestSwarmRequest(m.id)))
	if err != nil {
		e.log.Warn("reading a match's latest swarm", "match", m.id, "err", err)
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
	m.priming = false
	waiters := m.waiters
	m.waiters = nil
	return waiters, lastOf(m.ring)
}

// reprime forgets every match's recent swarms after the upstream
// connection was lost (swarms may have been missed) and reads them again.
func (e *Edge) reprime() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.matches {
		if m.id != wildcard && m.forget() {
			recovery.Go(e.log, panicUpstream, func() { e.prime(m) })
		}
	}
}

// forget drops m's recent swarms; true if a prime must start.
func (m *match) forget() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring, m.primed = nil, false
	start := !m.priming
	m.priming = true
	return start
}

// next answers match's first stored swarm at sequence seq or later: from
// the ring when it holds the swarms around seq, else upstream.
func (e *Edge) next(id string, seq uint64, done answer) {
	e.mu.Lock()
	m := e.matches[id]
	e.mu.Unlock()
	if m != nil {
		if st, ok := m.fromRing(seq); ok {
			e.m.requests.WithLabelValues("next", "cache").Inc()
			done(st, nil)
			return
		}
	}
	e.m.requests.WithLabelValues("next", "upstream").Inc()
	recovery.Go(e.log, panicUpstream, func() { done(e.fetch(e.api(wire.SwarmsGet), wire.SwarmsAfter(id, seq))) })
}

func (m *match) fromRing(seq uint64) (*stored, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fromRing(m.ring, m.primed, seq)
}

// fromRing finds the first swarm at seq or later in a ring of contiguous
// swarms: known only when seq is past the ring's first entry (or is it).
func fromRing(ring []stored, primed bool, seq uint64) (*stored, bool) {
	if !primed || len(ring) == 0 || seq < ring[0].seq {
		return nil, false
	}
	for i := range ring {
		if ring[i].seq >= seq {
			st := ring[i]
			return &st, true
		}
	}
	return nil, true // newer than any stored: 404
}

// api puts a $JS.API subject into the upstream's JetStream domain.
func (e *Edge) api(subject string) string {
	if e.cfg.Domain == "" {
		return subject
	}
	return "$JS." + e.cfg.Domain + ".API." + strings.TrimPrefix(subject, "$JS.API.")
}

// fetch is a direct get upstream, refused with errBusy when
// MaxUpstreamRequests are in flight.
func (e *Edge) fetch(subject string, body []byte) (*stored, error) {
	select {
	case e.sem <- struct{}{}:
	default:
		return nil, errBusy
	}
	return e.get(subject, body)
}

// fetchWait is fetch that waits for a free slot.
func (e *Edge) fetchWait(subject string) (*stored, error) {
	e.sem <- struct{}{}
	return e.get(subject, nil)
}

func (e *Edge) get(subject string, body []byte) (*stored, error) {
	e.m.inflight.Inc()
	defer func() { <-e.sem; e.m.inflight.Dec() }()
	msg, err := e.nc.Request(subject, body, e.cfg.UpstreamTimeout)
	if err != nil {
		return nil, fmt.Errorf("direct get %s: %w", subject, err)
	}
	switch status := msg.Header.Get("Status"); status {
	case "":
		return &stored{seqOf(msg), msg.Data}, nil
	case "404":
		return nil, nil
	default:
		return nil, fmt.Errorf("direct get %s: status %s %s", subject, status, msg.Header.Get("Description"))
	}
}

// nextRequest is the body of a wire.SwarmsGet request.
type nextRequest struct {
	Seq  uint64 `json:"seq"`
	Next string `json:"next_by_subj"`
}

// parseNext reads a SwarmsGet body: the match and the sequence.
func parseNext(body []byte) (string, uint64, bool) {
	var r nextRequest
	if json.Unmarshal(body, &r) != nil {
		return "", 0, false
	}
	id, ok := strings.CutPrefix(r.Next, wire.SwarmSubject(""))
	return id, r.Seq, ok && wire.ValidMatchID(id)
}

// replyTo builds the answer for a viewer: the swarm with its stored
// headers, or a status.
func replyTo(reply, match string, st *stored, err error) *message {
	m := &message{subject: reply}
	switch {
	case err != nil:
		m.header = statusHeader(503, "No Responders")
	case st == nil:
		m.header = statusHeader(404, "Message Not Found")
	default:
		m.header = []byte(fmt.Sprintf("NATS/1.0\r\n%s: %s\r\n%s: %s\r\n%s: %d\r\n\r\n",
			nats.JSStream, wire.SwarmsStream, nats.JSSubject, wire.SwarmSubject(match), nats.JSSequence, st.seq))
		m.data = st.data
	}
	return m
}
