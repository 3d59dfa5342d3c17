// Package timelinetest starts what the timeline's tests read and write: a
// real NATS server with EmoStream's streams and a match registry holding
// one live match.
package timelinetest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
)

// Env is a NATS server with the streams and a running registry.
type Env struct {
	NATS     *testenv.NATS
	NC       *nats.Conn
	JS       jetstream.JetStream
	Registry *registry.Registry
}

// Start starts Env with match live in the registry; the test's end stops it.
func Start(t testing.TB, match string) *Env {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Connect()
	ctx := context.Background()
	if err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "registry", reg.Run)
	if _, err := reg.Create(ctx, registry.Match{ID: match, State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	return &Env{NATS: n, NC: nc, JS: js, Registry: reg}
}
