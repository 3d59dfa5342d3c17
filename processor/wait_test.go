package processor

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestStartsWhileTheHubIsDown: a processor started while NATS is down does
// not exit: it reports not-ready, waits, and once the hub is back publishes
// swarms that sum exactly to the partials.
func TestStartsWhileTheHubIsDown(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	r.nats.Server.Shutdown()
	r.nats.Server.WaitForShutdown()
	_, _, p := r.processor(Config{Window: 500 * time.Millisecond, PartitionWait: 100 * time.Millisecond})
	testenv.WaitFor(t, 10*time.Second, "the processor to say it waits", func() bool {
		err := p.Ready()
		return err != nil && strings.Contains(err.Error(), "waiting for NATS")
	})
	r.nats.Restart()
	testenv.WaitFor(t, 10*time.Second, "the processor ready", func() bool { return p.Ready() == nil })
	rng := rand.New(rand.NewPCG(7, 7))
	start := wire.WindowStart(time.Now().UnixMilli(), 500)
	for w := range int64(4) {
		r.window(rng, start+w*500, 500)
	}
	r.exact(30 * time.Second)
}

// TestReplayWaitsForThePartials: a session's replay that gets no answer
// from the partials stream (no server answers its direct gets, as while a
// hub cluster's replicas elect a leader after a member died) waits, says
// so, and goes on once the stream answers: it does not stop the processor.
func TestReplayWaitsForThePartials(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	var logs testenv.LogBuffer
	_, done, p := r.processor(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	testenv.WaitFor(t, timeout, "the processor started", func() bool { return strings.Contains(logs.String(), "processor started") })
	direct := func(on bool) {
		t.Helper()
		sc := streams.Partials(r.scfg)
		sc.AllowDirect = on
		if _, err := r.js.UpdateStream(context.Background(), sc); err != nil {
			t.Fatal(err)
		}
	}
	direct(false) // the processor's direct gets of partials go unanswered
	r.window(rand.New(rand.NewPCG(7, 9)), pastWindow(0), winMs)
	testenv.WaitFor(t, timeout, "the replay waiting", func() bool {
		select {
		case <-done:
			t.Fatalf("the processor stopped:\n%s", logs.String())
		default:
		}
		return strings.Contains(logs.String(), "to replay partial")
	})
	// While it waits it counts nothing: /readyz says so, with why.
	testenv.WaitFor(t, timeout, "Ready to name the wait", func() bool {
		err := p.Ready()
		return err != nil && strings.Contains(err.Error(), "replay partial")
	})
	direct(true)
	r.exact(timeout)
	if err := p.Ready(); err != nil {
		t.Errorf("Ready after the wait: %v", err)
	}
}

// TestStandbyStopsWithoutItsConsumer: a standby processor whose partials
// consumer was deleted (an operator's "nats consumer rm") stops with the
// error, so that its restart creates the consumer again. Its reads of the
// consumer, retried since a hub member's death looks like a read without
// an answer, had waited for it forever while /readyz said ready.
func TestStandbyStopsWithoutItsConsumer(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	r.processor(Config{})
	r.window(rand.New(rand.NewPCG(7, 10)), pastWindow(0), winMs)
	r.exact(timeout)
	var logs testenv.LogBuffer
	p, err := New(Config{NATSURL: r.nats.URL, Streams: r.scfg, Partitions: r.parts, PinnedTTL: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.WaitFor(t, timeout, "the standby line", func() bool { return strings.Contains(logs.String(), "standby: another processor") })
	if err := r.js.DeleteConsumer(ctx, wire.PartialsStream, DefaultConsumer); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("Run: %v, want the consumer not found", err)
		}
	case <-time.After(timeout):
		t.Fatalf("the standby still runs %s after its consumer was deleted:\n%s", timeout, logs.String())
	}
}

// TestStopsWhileWaitingForThePartials: a processor whose replay waits for
// the partials stream to answer stops at once, without an error, when its
// context ends: the wait is no failure and holds nothing.
func TestStopsWhileWaitingForThePartials(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	var logs testenv.LogBuffer
	cancel, done, _ := r.processor(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	testenv.WaitFor(t, timeout, "the processor started", func() bool { return strings.Contains(logs.String(), "processor started") })
	sc := streams.Partials(r.scfg)
	sc.AllowDirect = false // the processor's direct gets of partials go unanswered
	if _, err := r.js.UpdateStream(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	r.window(rand.New(rand.NewPCG(7, 11)), pastWindow(0), winMs)
	testenv.WaitFor(t, timeout, "the replay waiting", func() bool { return strings.Contains(logs.String(), "to replay partial") })
	cancel()
	select {
	case <-done: // Run returned; an error would have failed the test (testenv.Background)
	case <-time.After(timeout):
		t.Fatalf("Run still waits %s after its context ended:\n%s", timeout, logs.String())
	}
}
