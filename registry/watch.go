package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/recovery"
)

// panicWatch is the component of emostream_panics_total for the handling of
// one update of the registry's bucket.
const panicWatch = "registry_watch"

// autoCreateTimeout bounds the one bucket write of an auto-admitted match.
const autoCreateTimeout = 2 * time.Second

// Run keeps the registry's copy of the bucket current until ctx ends. Admit
// refuses with ErrNotReady until it has loaded the bucket once; after that,
// while the hub is unreachable, it answers from the last copy.
func (r *Registry) Run(ctx context.Context) error {
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
// server may have restarted and lost the watch's consumer, which the
// client would notice only after several missed heartbeats.
var errReconnected = errors.New("registry: reconnected")

// watch applies the bucket's updates to the copy until ctx ends or the
// watch fails. It starts from every current value, so a restarted watch
// replaces the copy whole once its initial values are in.
func (r *Registry) watch(ctx context.Context) error {
	nc := r.js.Conn()
	reconnects := nc.Stats().Reconnects
	w, err := r.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	next := map[string]Match{}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if nc.Stats().Reconnects != reconnects && nc.IsConnected() {
				return errReconnected
			}
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch closed")
			}
			if e == nil { // every current value delivered
				initial = false
				r.publish(next)
				continue
			}
			if !initial {
				next = maps.Clone(*r.snap.Load())
			}
			recovery.Do(r.log, panicWatch, func() { r.apply(next, e) }) // a panic drops only that update
			if !initial {
				r.publish(next)
			}
		}
	}
}

func (r *Registry) apply(into map[string]Match, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		delete(into, e.Key())
		return
	}
	var m Match
	if err := json.Unmarshal(e.Value(), &m); err != nil || m.ID != e.Key() || m.Validate() != nil {
		r.log.Error("ignoring a bad registry value", "key", e.Key(), "err", err)
		delete(into, e.Key())
		return
	}
	into[m.ID] = m
}

// publish makes m the copy Admit and Matches read. m is not changed after.
func (r *Registry) publish(m map[string]Match) {
	first := r.snap.Load() == nil
	r.snap.Store(&m)
	if first {
		r.log.Info("match registry loaded", "matches", len(m))
	}
}

// Ready reports whether the registry has been loaded.
func (r *Registry) Ready() error {
	if r.snap.Load() == nil {
		return ErrNotReady
	}
	return nil
}

// Admit says whether reactions to match id are taken: nil for a live match,
// else an error wrapping ErrUnknownMatch, ErrNotLive or ErrNotReady. In
// AutoMatches mode an unknown match is created, live, while this process
// has created fewer than AutoMatches.
func (r *Registry) Admit(id string) error {
	snap := r.snap.Load()
	if snap == nil {
		return ErrNotReady
	}
	m, ok := (*snap)[id]
	switch {
	case ok && m.State == Live:
		return nil
	case ok:
		return fmt.Errorf("%w: %s is %s", ErrNotLive, id, m.State)
	case r.cfg.AutoMatches > 0:
		return r.autoAdmit(id)
	}
	return fmt.Errorf("%w: %s", ErrUnknownMatch, id)
}

// autoAdmit creates match id, live, if this process still may.
func (r *Registry) autoAdmit(id string) error {
	r.autoM.Lock()
	defer r.autoM.Unlock()
	if m, ok := (*r.snap.Load())[id]; ok { // created meanwhile
		if m.State == Live {
			return nil
		}
		return fmt.Errorf("%w: %s is %s", ErrNotLive, id, m.State)
	}
	if r.autoN >= r.cfg.AutoMatches {
		return fmt.Errorf("%w: %s (the %d auto-admitted matches are used up)", ErrUnknownMatch, id, r.cfg.AutoMatches)
	}
	ctx, cancel := context.WithTimeout(context.Background(), autoCreateTimeout)
	defer cancel()
	m, err := r.Create(ctx, Match{ID: id, State: Live, Auto: true})
	if err != nil && !errors.Is(err, ErrExists) {
		return err
	}
	if err != nil { // another instance created it: take what the bucket says
		if m, err = r.Get(ctx, id); err != nil {
			return err
		}
	} else {
		r.autoN++
		r.met.auto.Inc()
	}
	next := maps.Clone(*r.snap.Load())
	next[id] = m
	r.snap.Store(&next)
	if m.State != Live {
		return fmt.Errorf("%w: %s is %s", ErrNotLive, id, m.State)
	}
	return nil
}

// Matches returns the loaded matches in state s (every state when s is
// empty), sorted live first, at most limit of them (all when limit <= 0).
func (r *Registry) Matches(s State, limit int) []Match {
	snap := r.snap.Load()
	if snap == nil {
		return nil
	}
	var out []Match
	for _, m := range *snap {
		if s == "" || m.State == s {
			out = append(out, m)
		}
	}
	sortMatches(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// count is the number of loaded matches in state s.
func (r *Registry) count(s State) int {
	snap := r.snap.Load()
	if snap == nil {
		return 0
	}
	n := 0
	for _, m := range *snap {
		if m.State == s {
			n++
		}
	}
	return n
}
