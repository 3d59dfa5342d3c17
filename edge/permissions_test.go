package edge

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// errs collects a connection's asynchronous errors (the server's -ERR).
type errs struct {
	mu   sync.Mutex
	list []string
}

func (e *errs) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	e.mu.Lock()
	e.list = append(e.list, err.Error())
	e.mu.Unlock()
}

func (e *errs) has(text string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.list, func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(text)) })
}

// TestViewersCanOnlyWatch: every publish other than the two requests, every
// other subscription, and replies aimed anywhere but the asker's own inbox
// get the permissions error; the victim viewer on the same edge receives
// only the real swarms.
func TestViewersCanOnlyWatch(t *testing.T) {
	wd := startWorld(t)
	wd.publish(t, "m1", 0)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL()})
	victim := connect(t, e.URL())
	vlive := subscribe(t, victim, wire.LiveSubject("m1"))
	vbox := subscribe(t, victim, "_INBOX.victim.*")
	var got errs
	attacker := connect(t, e.URL(), nats.ErrorHandler(got.handler))
	own := subscribe(t, attacker, "_INBOX.attacker.*")

	for _, subject := range []string{">", "$JS.API.>", "_INBOX.>", "_INBOX.*", "_INBOX.*.x", wire.SwarmSubject("m1"),
		"emostream.live.*", "emostream.live.bad token", "emostream.viewers.>", "emostream.partials.>"} {
		if _, err := attacker.Subscribe(subject, func(*nats.Msg) { t.Errorf("delivered to the attacker's %s", subject) }); err != nil {
			continue // refused by the client library already
		}
		want := fmt.Sprintf("Permissions Violation for Subscription to %q", subject)
		testenv.WaitFor(t, 5*time.Second, want, func() bool { return got.has(want) })
	}
	if _, err := attacker.QueueSubscribe(wire.LiveSubject("m1"), "q", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "the queue refusal", func() bool { return got.has(`using queue "q"`) })

	for _, subject := range []string{wire.LiveSubject("m1"), "$JS.API.STREAM.INFO." + wire.SwarmsStream,
		"$JS.API.DIRECT.GET.EMOSTREAM_SWARMS.emostream.swarm.*", wire.ViewersSubject("x"), wire.SwarmSubject("m1"), "x"} {
		if err := attacker.Publish(subject, swarmBody("m2", 9)); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Permissions Violation for Publish to %q", subject)
		testenv.WaitFor(t, 5*time.Second, want, func() bool { return got.has(want) })
	}
	// the allowed requests with a reply aimed elsewhere: at the live
	// subject, at the victim's inbox, or with no reply at all
	vreply := "_INBOX.victim.stolen"
	for _, reply := range []string{wire.LiveSubject("m1"), vreply, wire.LiveSubjects} {
		if err := attacker.PublishRequest(wire.LatestSwarmRequest("m1"), reply, nil); err != nil {
			t.Fatal(err)
		}
		if err := attacker.PublishRequest(wire.SwarmsGet, reply, wire.SwarmsAfter("m1", 1)); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Permissions Violation for Publish with Reply of %q", reply)
		testenv.WaitFor(t, 5*time.Second, want, func() bool { return got.has(want) })
	}
	// a next request for another subject than a match's swarms
	if err := attacker.PublishRequest(wire.SwarmsGet, "_INBOX.attacker.1", []byte(`{"seq":1,"next_by_subj":"emostream.partials.>"}`)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "the bad next refused", func() bool {
		return got.has(fmt.Sprintf("Permissions Violation for Publish to %q", wire.SwarmsGet))
	})
	if err := attacker.Flush(); err != nil || !attacker.IsConnected() {
		t.Fatalf("the attacker's connection was closed (%v): refusals leave it open", err)
	}
	// the attacker's own legitimate request still works
	if err := attacker.PublishRequest(wire.LatestSwarmRequest("m1"), "_INBOX.attacker.1", nil); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "the attacker's own reply", func() bool { return own.len() == 1 })

	wd.publish(t, "m1", 1)
	testenv.WaitFor(t, 5*time.Second, "the real swarm", func() bool { return vlive.len() == 1 })
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	if w := vlive.windows(t); !slices.Equal(w, []int{1}) || vbox.len() != 0 {
		t.Fatalf("victim got live %v and %d inbox messages, want [1] and 0", w, vbox.len())
	}
}
