package processor

import (
	"context"
	"errors"
	"slices"
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
	p.awaitTimeline(ctx) // the previous window's records: this one's builds on them
	matches := w.matches()
	if err := p.prefetch(ctx, matches); err != nil && ctx.Err() == nil {
		p.log.Warn("reading match states; reading them one by one", "err", err)
	}
	p.prefetchTimelines(ctx, matches)
	var waiting []pending
	for _, match := range matches {
		sw, st, err := p.prepare(ctx, w, match, rule)
		if err == nil && sw == nil {
			continue
		}
		var f jetstream.PubAckFuture
		if err == nil {
			if p.beforePublish != nil {
				p.beforePublish(sw)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			f, err = p.store.publish(sw, st.seq)
		}
		if err != nil {
			if err := p.failed(ctx, w, match, rule, err); err != nil {
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
	p.sendTimeline()
	ackAll(w.acks)
	return nil
}

// prepare returns match's swarm of w and the match's state, or a nil swarm
// when it has no uncounted counts in w. A match whose swarm of w (or of a
// later window) is already stored gets its uncounted counts folded into its
// next window instead.
func (p *Processor) prepare(ctx context.Context, w *window, match, rule string) (*wire.Swarm, *matchState, error) {
	st, err := p.state(ctx, match)
	if err != nil {
		return nil, nil, err
	}
	t := tallyOf(w, match, st, p.bound)
	if len(t.counts) == 0 {
		return nil, st, nil
	}
	if st.published(w.start) {
		p.s.m.foldMatch(w, match, slices.Concat(t.entries, t.held))
		return nil, st, nil
	}
	if len(t.held) > 0 { // past the swarm's bound: counted in the match's next window
		p.met.held.Add(float64(len(t.held)))
		p.s.m.foldMatch(w, match, t.held)
	}
	if t.videoDropped > 0 {
		p.met.videoDropped.Add(float64(t.videoDropped))
	}
	if rule == closedByCap {
		rule = wire.ClosedByDeadline
	}
	sw := buildSwarm(w, match, t, st, swarmParams{window: p.cfg.Window,
		threshold: p.cfg.SwarmThreshold, closedBy: rule, now: p.cfg.Now()})
	sw.Viewers = p.occ.viewers(match)
	if tl := p.timelineOf(ctx, match, st); tl != nil {
		sw.Moments = p.cfg.Moments.detect(tl.recent, match, w.start, sw.Counts, sw.Total, p.cfg.Window, tl.lastMoment)
	}
	return sw, st, nil
}

// failed handles a swarm of match that could not be prepared or
// published: a swarm too large stops the processor, one that cannot be
// encoded is dropped, anything else is settled.
func (p *Processor) failed(ctx context.Context, w *window, match, rule string, err error) error {
	if stop := p.stopping(ctx, err); stop != nil {
		return stop
	}
	if p.dropped(w, match, err) {
		return nil
	}
	p.refused(match, err)
	return p.settle(ctx, w, match, rule)
}

// dropped drops match's swarm of w if err says that it cannot be encoded,
// and reports whether it did: retrying it in the goroutine that owns every
// window would stop every match's swarms, and no retry can change it. Its
// counts are lost, loudly (an error log, publish_errors_total with reason
// unencodable); w's partials are acknowledged with the others, so a
// restart does not replay it.
func (p *Processor) dropped(w *window, match string, err error) bool {
	if !errors.Is(err, errUnencodable) {
		return false
	}
	p.met.publishErrors.WithLabelValues(reasonUnencodable).Inc()
	p.log.Error("dropping a swarm that cannot be encoded; its counts are lost", "match", match,
		"window_start_ms", w.start, "err", err)
	return true
}

// stopping is what ends the handling of a swarm that failed with err: ctx
// ended, or the swarm is too large to publish (tooLarge stops the
// processor). Nil means settle it again.
func (p *Processor) stopping(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrTooLarge):
		return p.tooLarge(err)
	}
	return nil
}

// await waits for a swarm's acknowledgement, and settles its match again
// if the stream refused it.
func (p *Processor) await(ctx context.Context, w *window, pd pending, rule string) error {
	ack, err := wait(ctx, pd.future, pd.sw)
	if err == nil {
		p.stored(pd.sw, ack.Sequence)
		return nil
	}
	return p.failed(ctx, w, pd.sw.MatchID, rule, err)
}

// settle reads match's last swarm back from the stream, then publishes
// what it has not counted of w, or folds it forward; it retries until that
// is done or ctx ends, stops at a swarm too large to publish, and drops
// one that cannot be encoded.
func (p *Processor) settle(ctx context.Context, w *window, match, rule string) error {
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		_, err := p.resync(ctx, match)
		if err == nil {
			var sw *wire.Swarm
			var st *matchState
			if sw, st, err = p.prepare(ctx, w, match, rule); err == nil && sw == nil {
				return nil
			}
			var ack *jetstream.PubAck
			if err == nil {
				if ack, err = p.publishWait(ctx, sw, st.seq); err == nil {
					p.stored(sw, ack.Sequence)
					return nil
				}
			}
		}
		if stop := p.stopping(ctx, err); stop != nil {
			return stop
		}
		if p.dropped(w, match, err) {
			return nil
		}
		p.refused(match, err)
		if !errors.Is(err, errConflict) {
			sleep(ctx, backoff)
		}
	}
}

func (p *Processor) publishWait(ctx context.Context, sw *wire.Swarm, lastSeq uint64) (*jetstream.PubAck, error) {
	f, err := p.store.publish(sw, lastSeq)
	if err != nil {
		return nil, err
	}
	return wait(ctx, f, sw)
}

// resync replaces what this processor knows of match with its last swarm
// in the stream, and returns it.
func (p *Processor) resync(ctx context.Context, match string) (*matchState, error) {
	st, err := p.store.load(ctx, match)
	if err != nil {
		return nil, err
	}
	p.cache(match, st)
	p.met.stateLoads.Inc()
	return st, nil
}

// stored records that sw is stored at sequence seq, and queues its
// timeline records if the match's timeline is current.
func (p *Processor) stored(sw *wire.Swarm, seq uint64) {
	ns := stateOf(sw, seq)
	if old, ok := p.s.states.get(sw.MatchID); ok && old.tl != nil && !old.tl.broken && old.tl.swarm == old.seq {
		ns.tl = old.tl
		p.tlQueue = append(p.tlQueue, tlItem{tl: ns.tl, sw: sw, seq: seq})
	}
	p.cache(sw.MatchID, ns)
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
