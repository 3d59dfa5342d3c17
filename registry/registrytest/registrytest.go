// Package registrytest starts a match registry for tests in the test
// process, as net/http/httptest starts an HTTP server: a real NATS server
// with EmoStream's streams (testenv.StartStreams) and a running registry
// holding one live match, what the timeline's readers and writers need.
package registrytest

import (
	"context"
	"testing"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
)

// Env is a NATS server with the streams and a running registry.
type Env struct {
	*testenv.Streams
	Registry *registry.Registry
}

// Start starts Env with match live in the registry; the test's end stops it.
func Start(t testing.TB, match string) *Env {
	t.Helper()
	s := testenv.StartStreams(t)
	ctx := context.Background()
	reg, err := registry.Open(ctx, s.JS, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "registry", reg.Run)
	if _, err := reg.Create(ctx, registry.Match{ID: match, State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	return &Env{Streams: s, Registry: reg}
}
