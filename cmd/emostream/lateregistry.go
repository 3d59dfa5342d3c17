package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/registry"
)

// lateRegistry is the match registry of an ingest that started before it
// could reach the hub: until the registry is opened it answers
// registry.ErrNotReady (503 registry_unavailable, /readyz failing), so
// ingest serves and reports itself not ready instead of exiting.
type lateRegistry struct {
	r atomic.Pointer[registry.Registry]
}

var _ ingest.Registry = (*lateRegistry)(nil)

func (l *lateRegistry) get() (*registry.Registry, error) {
	if r := l.r.Load(); r != nil {
		return r, nil
	}
	return nil, registry.ErrNotReady
}

// openWhenReachable opens the registry, waiting for the hub with backoff
// (natsconn.Until), then keeps it current until ctx ends.
func (l *lateRegistry) openWhenReachable(ctx context.Context, log *slog.Logger, rf *registryFlags, rc registry.Config) error {
	var reg *registry.Registry
	var closeReg func()
	err := natsconn.Until(ctx, log, "the match registry on the NATS hub", natsconn.Permanent, nil,
		func(ctx context.Context) (err error) { reg, closeReg, err = rf.open(ctx, rc); return err })
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

// Ready is ErrNotReady until the registry is opened and loaded.
func (l *lateRegistry) Ready() error {
	r, err := l.get()
	if err != nil {
		return err
	}
	return r.Ready()
}

func (l *lateRegistry) Admit(id string) error {
	r, err := l.get()
	if err != nil {
		return err
	}
	return r.Admit(id)
}

// Snapshot is nil until the registry is opened and loaded.
func (l *lateRegistry) Snapshot() *registry.Snapshot {
	if r, _ := l.get(); r != nil {
		return r.Snapshot()
	}
	return nil
}

func (l *lateRegistry) Create(ctx context.Context, m registry.Match) (registry.Match, error) {
	r, err := l.get()
	if err != nil {
		return m, err
	}
	return r.Create(ctx, m)
}

func (l *lateRegistry) Get(ctx context.Context, id string) (registry.Match, error) {
	r, err := l.get()
	if err != nil {
		return registry.Match{}, err
	}
	return r.Get(ctx, id)
}

func (l *lateRegistry) List(ctx context.Context) ([]registry.Match, error) {
	r, err := l.get()
	if err != nil {
		return nil, err
	}
	return r.List(ctx)
}

func (l *lateRegistry) Start(ctx context.Context, id string) (registry.Match, error) {
	r, err := l.get()
	if err != nil {
		return registry.Match{}, err
	}
	return r.Start(ctx, id)
}

func (l *lateRegistry) End(ctx context.Context, id string) (registry.Match, error) {
	r, err := l.get()
	if err != nil {
		return registry.Match{}, err
	}
	return r.End(ctx, id)
}

func (l *lateRegistry) Remove(ctx context.Context, id string) error {
	r, err := l.get()
	if err != nil {
		return err
	}
	return r.Remove(ctx, id)
}
