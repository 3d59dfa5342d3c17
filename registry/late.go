package registry

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/natsconn"
)

// Late is the registry of a process that starts before it can reach the
// hub (an ingest started while the hub is down). Until OpenWhenReachable
// has opened it, every method answers ErrNotReady (ingest: 503
// registry_unavailable, /readyz failing), so the process serves and
// reports itself not ready instead of exiting. The zero value is ready to
// use. The opened Registry is published once, atomically: Late is safe
// for concurrent use, and costs one pointer load per call.
type Late struct {
	r atomic.Pointer[Registry]
}

// Opener opens the registry (connects to the hub and calls Open or Bind)
// and returns a function that releases what it holds.
type Opener func(ctx context.Context) (r *Registry, close func(), err error)

// OpenWhenReachable calls open until it succeeds, backing off between
// attempts and logging what it waits for (natsconn.Until); an error that
// waiting cannot cure (natsconn.Permanent: refused credentials) is
// returned. Then it keeps the registry current (Run) until ctx ends, and
// returns nil.
func (l *Late) OpenWhenReachable(ctx context.Context, log *slog.Logger, open Opener) error {
	var reg *Registry
	var closeReg func()
	err := natsconn.Until(ctx, log, "the match registry on the NATS hub", natsconn.Permanent, nil,
		func(ctx context.Context) (err error) { reg, closeReg, err = open(ctx); return err })
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer closeReg()
	l.r.Store(reg)
	return reg.Run(ctx)
}

// Register registers the registry's metrics on reg from the start, the
// matches' gauges at 0 until the registry is opened: give the registry
// the same Registerer (Config.Registerer), which then counts into them.
func (l *Late) Register(reg prometheus.Registerer) error {
	_, err := newMetrics(reg, func(auto bool, s State) int {
		if r := l.r.Load(); r != nil {
			return r.count(auto, s)
		}
		return 0
	})
	return err
}

// opened calls f with the opened registry, or returns ErrNotReady.
func opened[T any](l *Late, f func(*Registry) (T, error)) (T, error) {
	r := l.r.Load()
	if r == nil {
		var zero T
		return zero, ErrNotReady
	}
	return f(r)
}

// do calls f with the opened registry, or returns ErrNotReady.
func (l *Late) do(f func(*Registry) error) error {
	r := l.r.Load()
	if r == nil {
		return ErrNotReady
	}
	return f(r)
}

// Ready is ErrNotReady until the registry is opened and loaded.
func (l *Late) Ready() error { return l.do((*Registry).Ready) }

// Admit is Registry.Admit once opened.
func (l *Late) Admit(id string) error {
	return l.do(func(r *Registry) error { return r.Admit(id) })
}

// Snapshot is nil until the registry is opened and loaded.
func (l *Late) Snapshot() *Snapshot {
	s, _ := opened(l, func(r *Registry) (*Snapshot, error) { return r.Snapshot(), nil })
	return s
}

// Create is Registry.Create once opened; before, it returns m and
// ErrNotReady.
func (l *Late) Create(ctx context.Context, m Match) (Match, error) {
	r := l.r.Load()
	if r == nil {
		return m, ErrNotReady
	}
	return r.Create(ctx, m)
}

// Get is Registry.Get once opened.
func (l *Late) Get(ctx context.Context, id string) (Match, error) {
	return opened(l, func(r *Registry) (Match, error) { return r.Get(ctx, id) })
}

// List is Registry.List once opened.
func (l *Late) List(ctx context.Context) ([]Match, error) {
	return opened(l, func(r *Registry) ([]Match, error) { return r.List(ctx) })
}

// Start is Registry.Start once opened.
func (l *Late) Start(ctx context.Context, id string) (Match, error) {
	return opened(l, func(r *Registry) (Match, error) { return r.Start(ctx, id) })
}

// End is Registry.End once opened.
func (l *Late) End(ctx context.Context, id string) (Match, error) {
	return opened(l, func(r *Registry) (Match, error) { return r.End(ctx, id) })
}

// Remove is Registry.Remove once opened.
func (l *Late) Remove(ctx context.Context, id string) error {
	return l.do(func(r *Registry) error { return r.Remove(ctx, id) })
}
