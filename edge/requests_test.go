package edge

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

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

// startStallingUpstream runs a NATS server without JetStream whose direct
// gets are held, in arrival order, until the test answers them.
func startStallingUpstream(t *testing.T) (url string, held <-chan *nats.Msg) {
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
	return s.ClientURL(), ch
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
