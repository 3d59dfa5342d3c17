// Package fanouttest starts fanout's servers for tests in the test
// process, as net/http/httptest starts an HTTP server: a hub on random
// loopback ports, without client credentials, with the swarm stream and a
// stage connection to publish swarms, and leaves linked to it. It reads
// and writes nothing else.
package fanouttest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
)

// StartHub runs a hub until the test ends and returns it with a JetStream
// context on a connection to it.
func StartHub(t testing.TB) (*fanout.Hub, jetstream.JetStream) {
	t.Helper()
	h, err := fanout.NewHub(fanout.HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0",
		LeafListen: "127.0.0.1:0", Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	nc, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatalf("connecting to the hub: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.EnsureStream(ctx, js, streams.Swarms(streams.Config{})); err != nil {
		t.Fatal(err)
	}
	return h, js
}

// StartLeaf runs the leaf of cfg until the test ends and waits for its link
// to its hub (or parent leaf). A nil cfg.Logger logs to the test.
func StartLeaf(t testing.TB, cfg fanout.LeafConfig) *fanout.Leaf {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(t)
	}
	l, err := fanout.NewLeaf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Shutdown)
	testenv.WaitFor(t, 10*time.Second, "the leaf's link to the hub", func() bool { return l.Server().NumLeafNodes() == 1 })
	return l
}
