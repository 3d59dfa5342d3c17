package registry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
)

// A Late registry answers ErrNotReady while the hub is down, opens once
// the hub is back, then is the registry; it stops cleanly with its
// context.
func TestLateOpensWhenTheHubIsBack(t *testing.T) {
	n := testenv.StartNATS(t)
	seed := open(t, n, registry.Config{})
	if _, err := seed.Create(context.Background(), registry.Match{ID: "m1", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	n.Server.Shutdown()
	n.Server.WaitForShutdown()

	var l registry.Late
	ctx := context.Background()
	notReady := map[string]error{"Ready": l.Ready(), "Admit": l.Admit("m1"), "Remove": l.Remove(ctx, "m1")}
	m, err := l.Create(ctx, registry.Match{ID: "m2"})
	notReady["Create"] = err
	for name, f := range map[string]func() (registry.Match, error){"Get": func() (registry.Match, error) { return l.Get(ctx, "m1") },
		"Start": func() (registry.Match, error) { return l.Start(ctx, "m1") }, "End": func() (registry.Match, error) { return l.End(ctx, "m1") }} {
		_, notReady[name] = f()
	}
	_, notReady["List"] = l.List(ctx)
	for name, err := range notReady {
		if !errors.Is(err, registry.ErrNotReady) {
			t.Errorf("%s before opening: %v, want ErrNotReady", name, err)
		}
	}
	if l.Snapshot() != nil || m.ID != "m2" {
		t.Errorf("before opening: snapshot %v, Create returned %+v", l.Snapshot(), m)
	}

	var attempts atomic.Int32
	url := n.URL // Restart keeps the port
	testenv.Background(t, "late registry", func(ctx context.Context) error {
		return l.OpenWhenReachable(ctx, testenv.Logger(t), func(ctx context.Context) (*registry.Registry, func(), error) {
			attempts.Add(1)
			return openOn(ctx, url)
		})
	})
	testenv.WaitFor(t, 10*time.Second, "two attempts while the hub is down", func() bool { return attempts.Load() >= 2 })
	n.Restart()
	testenv.WaitFor(t, 20*time.Second, "m1 admitted once the hub is back", func() bool { return l.Admit("m1") == nil })
	if got, err := l.Get(ctx, "m1"); err != nil || got.State != registry.Live || l.Snapshot() == nil {
		t.Errorf("Get after opening: %+v, %v", got, err)
	}
}

// An error that waiting cannot cure (refused credentials) is returned at
// once; a context that ends while waiting is no error.
func TestLateGivesUp(t *testing.T) {
	var l registry.Late
	log := slog.New(slog.DiscardHandler)
	refused := func(context.Context) (*registry.Registry, func(), error) {
		return nil, nil, fmt.Errorf("connecting: %w", nats.ErrAuthorization)
	}
	if err := l.OpenWhenReachable(context.Background(), log, refused); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("refused credentials: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	down := func(context.Context) (*registry.Registry, func(), error) { return nil, nil, nats.ErrNoServers }
	if err := l.OpenWhenReachable(ctx, log, down); err != nil {
		t.Errorf("context ended while waiting: %v, want nil", err)
	}
	if !errors.Is(l.Ready(), registry.ErrNotReady) {
		t.Errorf("never opened: Ready %v", l.Ready())
	}
}

// openOn connects to url and binds to the registry's bucket, as an ingest
// does.
func openOn(ctx context.Context, url string) (*registry.Registry, func(), error) {
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(false))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err == nil {
		var r *registry.Registry
		if r, err = registry.Bind(ctx, js, registry.Config{}); err == nil {
			return r, nc.Close, nil
		}
	}
	nc.Close()
	return nil, nil, err
}

// A Late's metrics exist from the start, the matches at 0, and count the
// registry once it is opened with the same Registerer (whose own
// registration reuses them).
func TestLateMetrics(t *testing.T) {
	n := testenv.StartNATS(t)
	seed := open(t, n, registry.Config{})
	if _, err := seed.Create(context.Background(), registry.Match{ID: "m1", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var l registry.Late
	if err := l.Register(reg); err != nil {
		t.Fatal(err)
	}
	live := func() float64 { return gaugeValue(t, reg, "emostream_registry_matches", "operator", "live") }
	if got := live(); got != 0 {
		t.Fatalf("live operator matches before opening: %v, want 0", got)
	}
	testenv.Background(t, "late registry", func(ctx context.Context) error {
		return l.OpenWhenReachable(ctx, testenv.Logger(t), func(ctx context.Context) (*registry.Registry, func(), error) {
			_, js := n.Connect()
			r, err := registry.Bind(ctx, js, registry.Config{Registerer: reg})
			return r, func() {}, err
		})
	})
	testenv.WaitFor(t, 10*time.Second, "the opened registry counted", func() bool { return live() == 1 })
}

// gaugeValue is the value of name{origin, state} gathered from g.
func gaugeValue(t *testing.T, g prometheus.Gatherer, name, origin, state string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if f.GetName() == name && labels["origin"] == origin && labels["state"] == state {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{origin=%q,state=%q}", name, origin, state)
	return 0
}
