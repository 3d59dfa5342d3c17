package edge

import (
	"context"
	"fmt"
	"hash/maphash"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/wire"
)

// liveQueue is how many live messages wait for one delivery worker before
// the upstream callback waits too (and nats.go's pending buffer of the
// subscription, livePending, takes the next ones).
const liveQueue = 256

// readLive reads every match's live subject upstream on one subscription,
// until ctx ends: however many matches its viewers watch, the edge holds
// two subscriptions on its upstream (this one and nats.go's inbox of
// replies), so no viewer can use up the upstream's max_subscriptions, and
// a leaf's interest at the hub is one subject (docs/design.md, "Viewers
// and fan-out"). Each message goes to one of GOMAXPROCS workers, chosen by
// its subject: a match's swarms are delivered in order, different
// matches' in parallel. The workers are counted in wg.
func (e *Edge) readLive(ctx context.Context, wg *sync.WaitGroup) error {
	queues := make([]chan *nats.Msg, runtime.GOMAXPROCS(0))
	for i := range queues {
		queues[i] = make(chan *nats.Msg, liveQueue)
		wg.Go(func() { e.deliverLoop(ctx, queues[i]) })
	}
	seed := maphash.MakeSeed()
	route := func(msg *nats.Msg) {
		e.m.swarms.Inc()
		if up := e.live.Load(); up != nil {
			e.checkDropped(up)
		}
		select {
		case queues[maphash.String(seed, msg.Subject)%uint64(len(queues))] <- msg:
		case <-ctx.Done():
		}
	}
	up, err := e.nc.Subscribe(wire.LiveSubjects, recovery.Func(e.log, panicUpstream, route))
	if err != nil {
		return fmt.Errorf("edge: subscribing to %s: %w", wire.LiveSubjects, err)
	}
	e.live.Store(up)
	return up.SetPendingLimits(-1, livePending)
}

// livePending is how many bytes of live messages nats.go holds for the
// live subscription while the workers' queues are full; past it, it drops
// them (checkDropped).
const livePending = 64 << 20

// checkDropped counts the live messages that nats.go dropped since the
// last check and, if any, forgets every match's ring, which would have a
// hole (reprime). nats.go reports its slow consumer once per burst, at its
// first drop: every live message checks too, so that a drop later in the
// burst is caught by the next message received (the upstream sends a few
// live messages a second, so the lock this takes is not contended).
func (e *Edge) checkDropped(up *nats.Subscription) {
	n, err := up.Dropped()
	if err != nil {
		return
	}
	if d := int64(n) - e.dropped.Swap(int64(n)); d > 0 {
		e.m.dropped.Add(float64(d))
		e.reprime()
	}
}

// deliverLoop delivers the live messages of q until ctx ends.
func (e *Edge) deliverLoop(ctx context.Context, q <-chan *nats.Msg) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-q:
			recovery.Do(e.log, panicUpstream, func() { e.deliver(msg) })
		}
	}
}

// deliver writes one live message to every subscriber of its match and
// of the wildcard, framed once per group; nobody's, it is dropped.
func (e *Edge) deliver(msg *nats.Msg) {
	e.testHook(panicUpstream, msg.Data)
	e.mu.Lock()
	m, all := e.matches[wire.MatchOfSubject(msg.Subject)], e.matches[wildcard]
	e.mu.Unlock()
	if m == nil && all == nil {
		e.m.unwatched.Inc()
		return
	}
	seq := seqOf(msg)
	if m != nil && seq > 0 && !m.remember(seq, msg.Data, e.cfg.RingSize) {
		e.m.dups.Inc()
		return
	}
	out := &message{subject: msg.Subject, data: msg.Data}
	if seq > 0 {
		last, ok := lastSeqOf(msg)
		out.header = liveHeader(seq, last, ok)
	}
	start := time.Now()
	var done []*sub
	for _, x := range [...]*match{m, all} {
		if x != nil {
			done = e.broadcastAll(x, out, done)
		}
	}
	e.m.broadcast.Observe(time.Since(start).Seconds())
	for _, sb := range done {
		sb.s.drop(sb)
	}
}

// seqOf reads a stored swarm's stream sequence; 0 if it has none.
func seqOf(msg *nats.Msg) uint64 {
	if msg.Header == nil {
		return 0
	}
	seq, _ := strconv.ParseUint(msg.Header.Get(wire.SeqHeader), 10, 64)
	return seq
}

// lastSeqOf reads a live swarm's Nats-Last-Sequence, the sequence of its
// match's previous stored swarm (0: none), which the stream's RePublish
// sets; ok is false without one.
func lastSeqOf(msg *nats.Msg) (last uint64, ok bool) {
	v := msg.Header.Get(nats.JSLastSequence)
	if v == "" {
		return 0, false
	}
	last, err := strconv.ParseUint(v, 10, 64)
	return last, err == nil
}
