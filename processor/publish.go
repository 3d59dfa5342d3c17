package processor

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// pending is a swarm whose acknowledgement is awaited.
type pending struct {
	sw     *wire.Swarm
	future jetstream.PubAckFuture
}

// closeWindow publishes one swarm per match with uncounted activity in w,
// all at once, and acknowledges w's partials once every swarm is stored.
func (p *Processor) closeWindow(ctx context.Context, w *window, rule string) error {
	p.met.closed.WithLabelValues(rule).Inc()
	var waiting []pending
	for _, match := range w.matches() {
		sw := p.prepare(w, match, rule)
		if sw == nil {
			continue
		}
		if p.beforePublish != nil {
			p.beforePublish(sw)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := p.store.publish(sw, p.state(match).seq)
		if err != nil {
			p.refused(match, err)
			if err := p.settle(ctx, w, match, rule); err != nil {
				return err
			}
			continue
		}
		waiting = append(waiting, pending{sw: sw, future: f})
	}
	for _, pd := range waiting {
		if err := p.await(ctx, w, pd, rule); err != nil {
			return err
		}
	}
	ackAll(w.acks)
	return nil
}

// prepare returns match's swarm of w, or nil when it has no uncounted
// counts in w. A match whose swarm of w (or of a later window) is already
// stored gets its uncounted counts folded into its next window instead.
func (p *Processor) prepare(w *window, match, rule string) *wire.Swarm {
	st := p.state(match)
	t := tallyOf(w, match, st)
	if len(t.counts) == 0 {
		return nil
	}
	if st.published(w.start) {
		p.s.m.foldMatch(w, match, t.entries)
		return nil
	}
	return buildSwarm(w, match, t, st, swarmParams{window: p.cfg.Window,
		threshold: p.cfg.SwarmThreshold, closedBy: rule, now: p.cfg.Now()})
}

// await waits for a swarm's acknowledgement, and settles its match again
// if the stream refused it.
func (p *Processor) await(ctx context.Context, w *window, pd pending, rule string) error {
	ack, err := wait(ctx, pd.future)
	if err == nil {
		p.stored(pd.sw, ack.Sequence)
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	p.refused(pd.sw.MatchID, err)
	return p.settle(ctx, w, pd.sw.MatchID, rule)
}

// settle reads match's last swarm back from the stream, then publishes
// what it has not counted of w, or folds it forward; it retries until that
// is done or ctx ends.
func (p *Processor) settle(ctx context.Context, w *window, match, rule string) error {
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		err := p.resync(ctx, match)
		if err == nil {
			sw := p.prepare(w, match, rule)
			if sw == nil {
				return nil
			}
			var ack *jetstream.PubAck
			if ack, err = p.publishWait(ctx, sw); err == nil {
				p.stored(sw, ack.Sequence)
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.refused(match, err)
		if !errors.Is(err, errConflict) {
			sleep(ctx, backoff)
		}
	}
}

func (p *Processor) publishWait(ctx context.Context, sw *wire.Swarm) (*jetstream.PubAck, error) {
	f, err := p.store.publish(sw, p.state(sw.MatchID).seq)
	if err != nil {
		return nil, err
	}
	return wait(ctx, f)
}

// resync replaces what this processor knows of match with its last swarm
// in the stream.
func (p *Processor) resync(ctx context.Context, match string) error {
	st, err := p.store.load(ctx, match)
	if err == nil {
		p.s.states[match] = st
	}
	return err
}

// state is what this processor knows of match's last swarm.
func (p *Processor) state(match string) *matchState {
	st := p.s.states[match]
	if st == nil {
		st = newMatchState()
		p.s.states[match] = st
	}
	return st
}

// stored records that sw is stored at sequence seq.
func (p *Processor) stored(sw *wire.Swarm, seq uint64) {
	p.s.states[sw.MatchID] = stateOf(sw, seq)
	p.met.swarms.Inc()
	p.met.lag.Observe(p.cfg.Now().Sub(sw.WindowEnd).Seconds())
}

// refused counts and logs a publish the stream refused or that failed.
func (p *Processor) refused(match string, err error) {
	if errors.Is(err, errConflict) {
		p.met.rejected.Inc()
		p.log.Info("swarm already stored by another publish; read back", "match", match)
		return
	}
	p.log.Warn("publishing swarm", "match", match, "err", err)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
