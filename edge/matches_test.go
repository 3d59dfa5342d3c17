package edge

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestMaxMatches: distinct matches past MaxMatches are refused with the
// subscriptions error, nothing changes for the matches already watched,
// and a match's slot is free again after its last viewer leaves.
func TestMaxMatches(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), MaxMatches: 2})
	viewer := connect(t, e.URL())
	m1 := subscribe(t, viewer, wire.LiveSubject("m1"))
	subscribe(t, viewer, wire.LiveSubject("m2"))

	var got errs
	attacker := connect(t, e.URL(), nats.ErrorHandler(got.handler))
	extra, err := attacker.Subscribe(wire.LiveSubject("m3"), func(*nats.Msg) { t.Error("delivered m3 past MaxMatches") })
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "the subscriptions error for a third match", func() bool { return got.has(textMaxSubs) })
	if err := extra.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	wd.publish(t, "m3", 0)
	wd.publish(t, "m1", 0)
	testenv.WaitFor(t, 5*time.Second, "m1's swarm past the refusal", func() bool { return m1.len() == 1 })

	// The last viewer of m2 leaves: m3 fits now.
	viewer.Close()
	testenv.WaitFor(t, 5*time.Second, "the edge's matches released", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.matches) == 0
	})
	m3 := subscribe(t, connect(t, e.URL()), wire.LiveSubject("m3"))
	wd.publish(t, "m3", 1)
	testenv.WaitFor(t, 5*time.Second, "m3's swarm once a slot is free", func() bool { return m3.len() == 1 })
}
