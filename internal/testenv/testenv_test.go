package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// records is how many records the target's topic holds: the sum of its
// end offsets.
func records(t *testing.T, k testenv.KafkaTarget) int64 {
	t.Helper()
	var n int64
	for _, off := range k.EndOffsets(t) {
		n += off
	}
	return n
}

// The embedded broker keeps what it acknowledged across a restart on the
// same data dir and port.
func TestKafkaRestartKeepsLog(t *testing.T) {
	k := testenv.StartKafka(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(k.Addr()), Topic: k.Topic, RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}}
	msgs := []kafka.Message{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}, {Key: []byte("c"), Value: []byte("3")}}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	k.Stop()
	k.Start()
	total := records(t, k.Target())
	if total != 3 {
		t.Fatalf("after restart the log holds %d records, want 3", total)
	}
}

func TestStreamsEnsureIdempotent(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Connect()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, wire.SwarmsStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.RePublish; got == nil || got.Destination != wire.LiveSubjects {
		t.Fatalf("swarms stream republish = %+v", got)
	}
	n.Restart()
	testenv.WaitFor(t, 30*time.Second, "the partials stream after a restart", func() bool {
		_, err := js.Stream(ctx, wire.PartialsStream) // the client reconnects meanwhile
		return err == nil
	})
}

// StartStreams leaves every stream in place, reachable on its connection.
func TestStartStreams(t *testing.T) {
	s := testenv.StartStreams(t)
	ctx := context.Background()
	for _, name := range []string{wire.PartialsStream, wire.SwarmsStream, wire.TimelineStream} {
		if _, err := s.JS.Stream(ctx, name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
	if !s.NC.IsConnected() || s.NC.ConnectedUrl() != s.NATS.URL {
		t.Errorf("connection to %s: connected %v to %q", s.NATS.URL, s.NC.IsConnected(), s.NC.ConnectedUrl())
	}
}
