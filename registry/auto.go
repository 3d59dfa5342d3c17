package registry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The life of an auto-admitted match (AutoMatches, development only): Admit
// creates it live; each admission of reactions to it notes the time in
// this process (touch); the sweep of every registry opened with Open
// writes that time to the match's LastActive at most every
// AutoMatchIdle/4, ends the match once no process admitted reactions to it
// for AutoMatchIdle, and removes it AutoMatchRetention after it ended. Its
// room (AutoMatches) is then free again. Operator-created matches are never
// swept.

// autoCreateTimeout bounds the bucket writes of one auto-admission (with
// retries while other writers create at the same time), like ingest's
// produce timeout.
const autoCreateTimeout = 5 * time.Second

// sweepTimeout bounds one sweep's bucket writes.
const sweepTimeout = 30 * time.Second

// errSkip is a sweep's change that found, on the bucket's newest value,
// nothing to do.
var errSkip = errors.New("registry: nothing to do")

// touch notes that reactions to the auto-admitted match id were admitted
// now. The map holds only auto-admitted live matches of the copy (sweep,
// which runs where touch does, forgets the others), so it is bounded by
// AutoMatches.
func (r *Registry) touch(id string) {
	now := r.cfg.Now().UnixMilli()
	v, ok := r.seen.Load(id)
	if !ok {
		v, _ = r.seen.LoadOrStore(id, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(now)
}

// seenAt is when this process last admitted reactions to id (zero: never).
func (r *Registry) seenAt(id string) time.Time {
	if v, ok := r.seen.Load(id); ok {
		return time.UnixMilli(v.(*atomic.Int64).Load())
	}
	return time.Time{}
}

// sweepLoop sweeps every SweepInterval until ctx ends.
func (r *Registry) sweepLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	markers := time.NewTicker(markerInterval)
	defer markers.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sweep(ctx)
		case <-markers.C:
			mctx, cancel := context.WithTimeout(ctx, sweepTimeout)
			r.purgeMarkers(mctx)
			cancel()
		}
	}
}

// sweep writes the activity this process saw, ends idle and removes
// expired auto-admitted matches of the copy.
func (r *Registry) sweep(ctx context.Context) {
	snap := r.snap.Load()
	if snap == nil {
		return
	}
	if r.forget(snap); snap.Count(true, "") == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	now := r.cfg.Now()
	for _, m := range snap.matches {
		if !m.Auto {
			continue
		}
		if err := r.sweepOne(ctx, m, now); err != nil && !errors.Is(err, errSkip) && ctx.Err() == nil {
			r.log.Warn("sweeping an auto-admitted match", "match", m.ID, "err", err)
		}
	}
}

// forget drops the admission times of matches that are no longer
// auto-admitted and live in snap.
func (r *Registry) forget(snap *Snapshot) {
	r.seen.Range(func(k, _ any) bool {
		if m, ok := snap.Lookup(k.(string)); !ok || !m.Auto || m.State != Live {
			r.seen.Delete(k)
		}
		return true
	})
}

// sweepOne does what is due for one auto-admitted match at now.
func (r *Registry) sweepOne(ctx context.Context, m Match, now time.Time) error {
	idle, seen := r.cfg.AutoMatchIdle, r.seenAt(m.ID)
	switch {
	case m.State == Ended:
		if m.EndedAt != nil && now.Sub(*m.EndedAt) >= r.cfg.AutoMatchRetention {
			return r.removeExpired(ctx, m.ID, now)
		}
	case seen.After(m.active().Add(idle / 4)):
		return r.heartbeat(ctx, m.ID, seen)
	case now.Sub(latest(m.active(), seen)) >= idle:
		return r.endIdle(ctx, m.ID, now)
	}
	return nil
}

// heartbeat writes seen as the match's LastActive, if it is later.
func (r *Registry) heartbeat(ctx context.Context, id string, seen time.Time) error {
	_, err := r.update(ctx, id, func(m Match) (Match, error) {
		if !m.Auto || m.State == Ended || !seen.After(m.active()) {
			return m, errSkip
		}
		t := seen.UTC()
		m.LastActive = &t
		return m, nil
	})
	return err
}

// endIdle ends the match if, on its newest value, no process admitted
// reactions to it for AutoMatchIdle.
func (r *Registry) endIdle(ctx context.Context, id string, now time.Time) error {
	_, err := r.update(ctx, id, func(m Match) (Match, error) {
		if !m.Auto || m.State == Ended || now.Sub(latest(m.active(), r.seenAt(id))) < r.cfg.AutoMatchIdle {
			return m, errSkip
		}
		return m.to(Ended, now)
	})
	if err == nil {
		r.met.swept.WithLabelValues("ended").Inc()
		r.log.Info("auto-admitted match ended: idle", "match", id, "idle", r.cfg.AutoMatchIdle)
	}
	return err
}

// removeExpired removes the match if, on its newest value, it is an
// auto-admitted match that ended AutoMatchRetention ago.
func (r *Registry) removeExpired(ctx context.Context, id string, now time.Time) error {
	m, rev, err := r.get(ctx, id)
	if err != nil {
		return err
	}
	if !m.Auto || m.State != Ended || m.EndedAt == nil || now.Sub(*m.EndedAt) < r.cfg.AutoMatchRetention {
		return errSkip
	}
	if err := r.kv.Purge(ctx, id, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("removing %s: %w", id, bucketFull(err))
	}
	r.met.swept.WithLabelValues("removed").Inc()
	r.log.Info("auto-admitted match removed: retention over", "match", id, "retention", r.cfg.AutoMatchRetention)
	return nil
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
