package testenv

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
)

// Streams is a NATS server with EmoStream's JetStream streams (default
// configurations) and a client connection to it.
type Streams struct {
	NATS *NATS
	NC   *nats.Conn
	JS   jetstream.JetStream
}

// StartStreams starts a NATS server (StartNATS), connects to it and creates
// every stream (streams.Ensure with the defaults). It all stops when the
// test ends.
func StartStreams(t testing.TB) *Streams {
	t.Helper()
	n := StartNATS(t)
	nc, js := n.Connect()
	if err := streams.Ensure(context.Background(), js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	return &Streams{NATS: n, NC: nc, JS: js}
}
