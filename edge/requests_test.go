package edge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestRequestsPerViewer: a viewer has at most maxRequests requests waiting
// for their answers; the ones past it are answered 503 at once and counted
// as busy, and once the waiting ones are answered the viewer may ask again.
func TestRequestsPerViewer(t *testing.T) {
	up, held := startStallingUpstream(t)
	e, _ := startEdge(t, Config{NATSURL: up, UpstreamTimeout: time.Minute, OccupancyInterval: -1})
	viewer := connect(t, e.URL())
	replies := make(chan *nats.Msg, 16) // a channel sees 503s as messages; NextMsg makes them errors
	if _, err := viewer.ChanSubscribe("_INBOX.v.*", replies); err != nil {
		t.Fatal(err)
	}
	ask := func(i int, next bool) {
		subject, body := wire.LatestSwarmRequest("m1"), []byte(nil)
		if next {
			subject, body = wire.SwarmsGet, wire.SwarmsAfter("m1", 1)
		}
		if err := viewer.PublishRequest(subject, fmt.Sprintf("_INBOX.v.%d", i), body); err != nil {
			t.Fatal(err)
		}
	}
	for i := range maxRequests {
		ask(i, false) // matches nobody watches here: every one goes upstream and waits
	}
	ask(maxRequests, true)
	ask(maxRequests+1, true)
	for i := maxRequests; i < maxRequests+2; i++ {
		m := receive(t, replies, "a reply")
		if want := fmt.Sprintf("_INBOX.v.%d", i); m.Subject != want || m.Header.Get("Status") != "503" {
			t.Fatalf("reply on %s with status %q, want 503 on %s", m.Subject, m.Header.Get("Status"), want)
		}
	}
	if got := testutil.ToFloat64(e.m.requests.WithLabelValues("next", "busy")); got != 2 {
		t.Errorf("busy next requests %v, want 2", got)
	}
	waiting := make([]*nats.Msg, 0, maxRequests)
	for range maxRequests {
		waiting = append(waiting, receive(t, held, "a direct get upstream"))
	}
	select {
	case m := <-held:
		t.Fatalf("a request past the cap reached the upstream: %s", m.Subject)
	default:
	}
	for _, m := range waiting {
		notFound(t, m)
	}
	for range maxRequests {
		if m := receive(t, replies, "a reply"); m.Header.Get("Status") != "404" {
			t.Fatalf("reply on %s: %v, want the upstream's 404", m.Subject, m.Header)
		}
	}
	ask(9, false) // answered: the viewer may ask again
	notFound(t, receive(t, held, "a direct get upstream"))
	if m := receive(t, replies, "a reply"); m.Header.Get("Status") != "404" {
		t.Fatalf("a request after the answers: %v, want 404", m.Header)
	}
}

// TestInboxUnsubMaxCountsFromSub: "UNSUB <sid> <max>" on an inbox counts
// the answers it got since its SUB, as nats-server and nats.go's
// AutoUnsubscribe do: one that got 2 and is told UNSUB 2 goes at once, one
// told UNSUB 3 takes one more answer. (A live subscription counts from the
// UNSUB: docs/api.md, "Viewer protocol".)
func TestInboxUnsubMaxCountsFromSub(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), OccupancyInterval: -1})
	wd.publish(t, "m1", 0)
	rc := dialRaw(t, e)
	rc.handshake()
	do := func(ops, until string) string {
		t.Helper()
		if err := rc.send([]byte(ops)); err != nil {
			t.Fatal(err)
		}
		got, _ := rc.until(until, 5*time.Second)
		rc.got.Reset()
		if !strings.Contains(got, until) {
			t.Fatalf("after %q: no %q in %q", ops, until, got)
		}
		return got
	}
	ask := func(inbox string) string {
		return "PUB " + wire.LatestSwarmRequest("m1") + " " + inbox + " 0\r\n\r\n"
	}
	do(connectOp+"SUB _INBOX.a 1\r\nSUB _INBOX.b 2\r\nPING\r\n", "PONG")
	for _, inbox := range []string{"_INBOX.a", "_INBOX.a", "_INBOX.b", "_INBOX.b"} {
		do(ask(inbox), "HMSG "+inbox+" ")
	}
	do("UNSUB 1 2\r\nUNSUB 2 3\r\nPING\r\n", "PONG")
	if n := testutil.ToFloat64(e.m.subs); n != 1 {
		t.Errorf("subscriptions after UNSUB 1 2 and UNSUB 2 3 on inboxes that got 2: %v, want 1", n)
	}
	if got := do(ask("_INBOX.a")+"PING\r\n", "PONG"); !strings.Contains(got, "Permissions Violation for Publish with Reply") {
		t.Errorf("a request to the inbox that took its 2: %q, want no inbox", got)
	}
	do(ask("_INBOX.b"), "HMSG _INBOX.b ")
	testenv.WaitFor(t, 5*time.Second, "the inbox that took its 3 to go", func() bool { return testutil.ToFloat64(e.m.subs) == 0 })
}

// startStallingUpstream runs a NATS server without JetStream whose direct
// gets are held, in arrival order, until the test answers them.
func startStallingUpstream(t *testing.T) (url string, held <-chan *nats.Msg) {
	t.Helper()
	s, held := startStallingServer(t)
	return s.ClientURL(), held
}

// startStallingServer is startStallingUpstream's server, for tests that
// disconnect its clients.
func startStallingServer(t *testing.T) (*server.Server, <-chan *nats.Msg) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("the upstream NATS server did not start")
	}
	ch := make(chan *nats.Msg, 64)
	nc := connect(t, s.ClientURL())
	if _, err := nc.ChanSubscribe("$JS.API.DIRECT.GET.>", ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return s, ch
}

// notFound answers a held direct get as JetStream does for no message.
func notFound(t *testing.T, m *nats.Msg) {
	t.Helper()
	r := nats.NewMsg(m.Reply)
	r.Header.Set("Status", "404")
	r.Header.Set("Description", "Message Not Found")
	if err := m.RespondMsg(r); err != nil {
		t.Fatal(err)
	}
}

// receive waits for the next message on ch.
func receive(t *testing.T, ch <-chan *nats.Msg, what string) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("waiting for %s: timed out", what)
		return nil
	}
}

// TestInboxAutoUnsubscribe: "UNSUB <sid> <max>" on an inbox counts the
// answers delivered to it, as nats-server counts messages: the last one
// removes the subscription, and none is written past it. Clients that use
// one inbox per request with an auto-unsubscribe (nats.go's old request
// style, and the raw protocol below) then never run into
// MaxSubscriptions.
func TestInboxAutoUnsubscribe(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), OccupancyInterval: -1})
	wd.publish(t, "m1", 0)
	subs := func() float64 { return testutil.ToFloat64(e.m.subs) }
	waiting := func() bool { // every request of every viewer answered
		e.mu.Lock()
		defer e.mu.Unlock()
		for s := range e.sessions {
			if s.requests.Load() != 0 {
				return false
			}
		}
		return true
	}

	// Raw protocol: 20 requests at once, each on an inbox of its own that
	// takes 1 message (4 answered upstream, the others busy at once); then
	// 2 requests on one inbox that takes 1, both answered upstream.
	rc := dialRaw(t, e)
	rc.handshake()
	ask := func(ops string) string {
		t.Helper()
		if err := rc.send([]byte(ops + "PING\r\n")); err != nil {
			t.Fatal(err)
		}
		got, _ := rc.until("PONG", 5*time.Second) // every request made
		rc.got.Reset()
		testenv.WaitFor(t, 5*time.Second, "every request answered", waiting)
		_ = rc.send([]byte("PING\r\n"))
		rest, _ := rc.until("PONG", 5*time.Second)
		rc.got.Reset()
		return got + rest
	}
	var b strings.Builder
	b.WriteString(connectOp)
	for i := range 20 {
		fmt.Fprintf(&b, "SUB _INBOX.r%d %d\r\nUNSUB %d 1\r\nPUB %s _INBOX.r%d 0\r\n\r\n", i, i, i, wire.LatestSwarmRequest("m1"), i)
	}
	got := ask(b.String())
	once := "SUB _INBOX.once 99\r\nUNSUB 99 1\r\n"
	for range 2 {
		once += "PUB " + wire.LatestSwarmRequest("m1") + " _INBOX.once 0\r\n\r\n"
	}
	got += ask(once)
	if n := strings.Count(got, textMaxSubs); n > 0 {
		t.Errorf("%d of 20 requests on inboxes of their own refused: %s", n, textMaxSubs)
	}
	if n := strings.Count(got, "HMSG _INBOX.r"); n != 20 {
		t.Errorf("%d answers on the 20 inboxes, want 20", n)
	}
	if n := strings.Count(got, "HMSG _INBOX.once 99 "); n != 1 {
		t.Errorf("%d answers on an inbox that takes 1, want 1", n)
	}
	if n := subs(); n != 0 {
		t.Errorf("%v subscriptions left after every inbox took its answer, want 0", n)
	}

	// nats.go with the old request style: an inbox per request, UNSUB 1.
	nc := connect(t, e.URL(), nats.UseOldRequestStyle())
	for i := range 2 * DefaultMaxSubscriptions {
		if _, err := nc.Request(wire.LatestSwarmRequest("m1"), nil, 5*time.Second); err != nil {
			t.Fatalf("request %d in the old style: %v", i, err)
		}
	}
	testenv.WaitFor(t, 5*time.Second, "no subscription left", func() bool { return subs() == 0 })
}
