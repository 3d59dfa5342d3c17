package edge

import (
	"context"
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

// answer receives a request's swarm later (from a goroutine that holds no
// lock): nil for none (404), or an error.
type answer func(*stored, error)

// Outcomes of a latest request for a match with viewers here.
const (
	fromCache = iota // the match is primed: its latest swarm
	waiting          // queued for the match's prime
	refused          // maxWaiters wait already, or no slot for a prime: 503
	dropped          // the match lost its viewers meanwhile: ask upstream
)

// latest answers match's latest stored swarm, from the cache when the match
// has viewers here: at once (now), or later through done.
func (e *Edge) latest(id string, done answer) (st *stored, now bool, err error) {
	e.mu.Lock()
	m := e.matches[id]
	e.mu.Unlock()
	if m != nil {
		last, outcome := e.latestOrWait(m, done)
		switch outcome {
		case fromCache:
			e.m.requests.WithLabelValues("latest", "cache").Inc()
			return last, true, nil
		case waiting:
			e.m.requests.WithLabelValues("latest", "cache").Inc()
			return nil, false, nil
		case refused:
			e.m.requests.WithLabelValues("latest", "busy").Inc()
			return nil, true, errBusy
		}
	}
	return e.upstream("latest", e.api(wire.LatestSwarmRequest(id)), nil, done)
}

// latestOrWait is m's latest swarm once m is primed; else it queues done
// for m's prime, starting one if none is under way (refused if none can
// start, or maxWaiters wait already).
func (e *Edge) latestOrWait(m *match, done answer) (*stored, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.primed:
		return lastOf(m.ring), fromCache
	case m.gone:
		return nil, dropped
	case len(m.waiters) >= maxWaiters, !m.priming && !e.startPrime(m):
		return nil, refused
	}
	m.waiters = append(m.waiters, done)
	return nil, waiting
}

func lastOf(ring []stored) *stored {
	if len(ring) == 0 {
		return nil
	}
	st := ring[len(ring)-1]
	return &st
}

// next answers match's first stored swarm at sequence seq or later: from
// the ring when it holds the swarms around seq (now), else upstream
// (through done).
func (e *Edge) next(id string, seq uint64, done answer) (st *stored, now bool, err error) {
	e.mu.Lock()
	m := e.matches[id]
	e.mu.Unlock()
	if m != nil {
		if st, ok := m.fromRing(seq); ok {
			e.m.requests.WithLabelValues("next", "cache").Inc()
			return st, true, nil
		}
	}
	return e.upstream("next", e.api(wire.SwarmsGet), wire.SwarmsAfter(id, seq), done)
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

// upstream answers done with a direct get, or at once (now) with errBusy
// when MaxUpstreamRequests are in flight.
func (e *Edge) upstream(kind, subject string, body []byte, done answer) (st *stored, now bool, err error) {
	if !e.takeSlot() {
		e.m.requests.WithLabelValues(kind, "busy").Inc()
		return nil, true, errBusy
	}
	e.m.requests.WithLabelValues(kind, "upstream").Inc()
	recovery.Go(e.log, panicUpstream, func() { done(e.get(context.Background(), subject, body)) })
	return nil, false, nil
}

// takeSlot takes one of the MaxUpstreamRequests slots for a direct get,
// without waiting; get gives it back.
func (e *Edge) takeSlot() bool {
	select {
	case e.sem <- struct{}{}:
		e.m.inflight.Inc()
		return true
	default:
		return false
	}
}

// get is a direct get upstream on a slot takeSlot took, bounded by
// UpstreamTimeout and ctx.
func (e *Edge) get(ctx context.Context, subject string, body []byte) (*stored, error) {
	defer func() { <-e.sem; e.m.inflight.Dec() }()
	ctx, cancel := context.WithTimeout(ctx, e.cfg.UpstreamTimeout)
	defer cancel()
	msg, err := e.nc.RequestWithContext(ctx, subject, body)
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
