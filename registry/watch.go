package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/wire"
)

// panicWatch is the component of emostream_panics_total for the handling of
// one update of the registry's bucket.
const panicWatch = "registry_watch"

// Run keeps the registry's copy of the bucket current until ctx ends. Admit
// refuses with ErrNotReady until it has loaded the bucket once; after that,
// while the hub is unreachable, it answers from the last copy. A registry
// opened with Open also ends idle and removes expired auto-admitted
// matches (sweep).
func (r *Registry) Run(ctx context.Context) error {
	if r.writable {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); r.sweepLoop(ctx) }()
	}
	for {
		err := r.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errReconnected) {
			r.log.Info("reconnected to NATS: reloading the match registry")
			continue
		}
		r.log.Warn("watching the match registry; retrying", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil
		}
	}
}

// errReconnected ends a watch after the NATS connection reconnected: the
// hub may have restarted, lost the watch's consumer (which the client
// would notice only after several missed heartbeats) or its bucket's
// sequences, so Run reloads the bucket whole at once.
var errReconnected = errors.New("registry: reconnected")

// reconnectCheck returns a function that reports whether nc, connected
// now, reconnected since reconnectCheck was called.
func reconnectCheck(nc *nats.Conn) func() bool {
	n := nc.Stats().Reconnects
	return func() bool { return nc.Stats().Reconnects != n && nc.IsConnected() }
}

// maxBatch bounds the updates applied to one new copy.
const maxBatch = 1000

// watch applies the bucket's updates to the copy until ctx ends or the
// watch fails: follow for a registry of Bind, which may create no
// consumer; a push watch (jetstream.KeyValue.WatchAll) for one of Open,
// whose creates wait for the copy to move on.
func (r *Registry) watch(ctx context.Context) error {
	if !r.writable {
		return r.follow(ctx)
	}
	reconnected := reconnectCheck(r.js.Conn())
	w, err := r.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	initial, ms, rev := true, map[string]Match{}, uint64(0)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if reconnected() {
				return errReconnected
			}
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return errors.New("watch closed")
			case e == nil: // every current value delivered
				initial = false
				r.publish(newSnapshot(rev, ms))
			case initial:
				r.applySafe(ms, entryUpdate(e))
				rev = max(rev, e.Revision())
			default:
				r.applyBurst(burst(e, w.Updates()))
			}
		}
	}
}

// burst is e and the updates already waiting (at most maxBatch in all).
func burst(e jetstream.KeyValueEntry, more <-chan jetstream.KeyValueEntry) []update {
	ups := []update{entryUpdate(e)}
	for len(ups) < maxBatch {
		select {
		case e = <-more:
			if e == nil { // a closed channel: the watch sees it closed next
				return ups
			}
			ups = append(ups, entryUpdate(e))
		default:
			return ups
		}
	}
	return ups
}

// entryUpdate is the update of a watch's entry.
func entryUpdate(e jetstream.KeyValueEntry) update {
	return update{key: e.Key(), del: e.Operation() != jetstream.KeyValuePut, value: e.Value(), rev: e.Revision()}
}

// update is one message of the bucket: a key's value, or its removal.
type update struct {
	key   string
	del   bool // a delete or purge marker
	value []byte
	rev   uint64 // the message's stream sequence
}

// applyBurst makes one new copy of the current one with ups. Updates the
// copy holds already (a create adopted) are skipped.
func (r *Registry) applyBurst(ups []update) {
	cur := r.snap.Load()
	ms, rev := maps.Clone(cur.matches), cur.rev
	for _, u := range ups {
		if u.rev > rev {
			r.applySafe(ms, u)
			rev = u.rev
		}
	}
	if rev > cur.rev {
		r.publish(newSnapshot(rev, ms))
	}
}

// applySafe is apply, a panic of which drops only that update.
func (r *Registry) applySafe(into map[string]Match, u update) {
	recovery.Do(r.log, panicWatch, func() { r.apply(into, u) })
}

// apply applies one update to a copy's matches. Keys that are no match id
// (guardKey) are skipped.
func (r *Registry) apply(into map[string]Match, u update) {
	if !wire.ValidMatchID(u.key) {
		return
	}
	if u.del {
		delete(into, u.key)
		return
	}
	var m Match
	if err := json.Unmarshal(u.value, &m); err != nil || m.ID != u.key || m.Validate() != nil {
		r.log.Error("ignoring a bad registry value", "key", u.key, "err", err)
		delete(into, u.key)
		return
	}
	into[m.ID] = m
}

// publish makes s the copy Admit and Snapshot read, and tells those
// waiting for a newer copy.
func (r *Registry) publish(s *Snapshot) {
	old := r.snap.Swap(s)
	if old == nil {
		r.log.Info("match registry loaded", "matches", s.Len())
		return
	}
	close(old.next)
}

// Ready reports whether the registry has been loaded.
func (r *Registry) Ready() error {
	if r.snap.Load() == nil {
		return ErrNotReady
	}
	return nil
}

// Snapshot is the current copy of the registry, nil until Run loaded it.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Admit says whether reactions to match id are taken: nil for a live match,
// else an error wrapping ErrUnknownMatch, ErrNotLive or ErrNotReady. In
// AutoMatches mode an unknown match is created, live, while the registry
// holds fewer than AutoMatches auto-admitted matches.
func (r *Registry) Admit(id string) error {
	snap := r.snap.Load()
	if snap == nil {
		return ErrNotReady
	}
	m, ok := snap.Lookup(id)
	switch {
	case ok:
		return r.admitKnown(m)
	case r.cfg.AutoMatches > 0:
		return r.autoAdmit(id, snap)
	}
	return fmt.Errorf("%w: %s", ErrUnknownMatch, id)
}

// admitKnown is nil for a live match, and notes the admission of an
// auto-admitted one (it keeps it from ending as idle) where the sweep
// writes it down.
func (r *Registry) admitKnown(m Match) error {
	if m.State != Live {
		return fmt.Errorf("%w: %s is %s", ErrNotLive, m.ID, m.State)
	}
	if m.Auto && r.writable {
		r.touch(m.ID)
	}
	return nil
}

// autoAdmit creates match id, live, if the registry has room for another
// auto-admitted match.
func (r *Registry) autoAdmit(id string, snap *Snapshot) error {
	if n := snap.Count(true, ""); n >= r.cfg.AutoMatches { // full: refused without a write
		return fmt.Errorf("%w: %s (the registry holds %d of %d auto-admitted matches)", ErrUnknownMatch, id, n, r.cfg.AutoMatches)
	}
	r.autoM.Lock()
	defer r.autoM.Unlock()
	if m, ok := r.snap.Load().Lookup(id); ok { // created meanwhile
		return r.admitKnown(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), autoCreateTimeout)
	defer cancel()
	m, err := r.Create(ctx, Match{ID: id, State: Live, Auto: true})
	switch {
	case errors.Is(err, ErrExists): // created by another process: take what the bucket says
		if m, err = r.Get(ctx, id); err != nil {
			return err
		}
	case errors.Is(err, ErrFull):
		return fmt.Errorf("%w: %s (%s)", ErrUnknownMatch, id, strings.TrimPrefix(err.Error(), "registry: "))
	case err != nil:
		return err
	default:
		r.met.auto.Inc()
	}
	return r.admitKnown(m)
}
