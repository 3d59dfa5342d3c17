package edge

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// A live swarm still queued in its delivery worker when the upstream
// connection drops reaches the ring only before the reconnect's prime
// ends, which cuts it off: the ring never spans the swarms the edge missed
// while away, so a next request for one of them goes upstream, and a
// viewer following the gap rule shows every window.
func TestQueuedSwarmOfOldConnectionLeavesNoHoleInRing(t *testing.T) {
	wd := startWorld(t)
	wd.publish(t, "m1", 0) // seq 1
	cfg := fanout.LeafConfig{Name: "leaf-1", ClientListen: freeAddr(t), EdgePassword: "edge-secret"}
	leaf := startLeaf(t, wd, cfg)

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(e *Edge) {
		e.hook = func(where string, data []byte) {
			if where == panicUpstream && windowOf(t, data) == 2 {
				once.Do(func() { close(entered); <-release })
			}
		}
	}
	e, _ := startEdge(t, Config{NATSURL: leaf.EdgeUpstream(), Domain: fanout.HubDomain, OccupancyInterval: -1}, hold)
	f := follow(t, e.URL(), "m1")
	testenv.WaitFor(t, 10*time.Second, "the leaf's interest", func() bool { return leafInterest(wd, "m1") })
	reads := func() float64 { return testutil.ToFloat64(e.m.primes.WithLabelValues("read")) }
	testenv.WaitFor(t, 5*time.Second, "the first prime", func() bool { return reads() == 1 })

	wd.publish(t, "m1", 1) // seq 2, delivered
	f.waitFor(t, seqs(0, 1))
	wd.publish(t, "m1", 2) // seq 3: received, waits in its worker
	<-entered

	leaf.Shutdown()
	testenv.WaitFor(t, 10*time.Second, "the edge to notice", func() bool { return e.Ready() != nil })
	wd.publish(t, "m1", 3) // seq 4, missed by the edge
	wd.publish(t, "m1", 4) // seq 5, missed by the edge
	startLeaf(t, wd, cfg)
	testenv.WaitFor(t, 10*time.Second, "the reconnect's prime", func() bool { return reads() == 2 })
	close(release) // the queued swarm of the old connection is delivered now
	testenv.WaitFor(t, 10*time.Second, "the leaf's interest", func() bool { return e.Ready() == nil && leafInterest(wd, "m1") })
	wd.publish(t, "m1", 5) // seq 6, live: its Nats-Last-Sequence 5 shows the gap

	nc := connect(t, e.URL())
	msg, err := nc.Request(wire.SwarmsGet, wire.SwarmsAfter("m1", 4), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqHeaderOf(t, msg); got != 4 {
		t.Errorf("next from 4 (missed while disconnected): sequence %d (window %d), want 4", got, windowOf(t, msg.Data))
	}
	f.waitFor(t, seqs(0, 5))
}

// A prime whose direct get read the stream before the upstream connection
// dropped, and whose answer arrives after the reconnect, primes nothing:
// the reconnect cancels it and primes the match again, so the ring never
// spans the swarms the edge missed while away.
func TestPrimeAcrossReconnectIsReadAgain(t *testing.T) {
	s, gets := startStallingServer(t)
	stream := connect(t, s.ClientURL())
	e, _ := startEdge(t, Config{NATSURL: s.ClientURL(), OccupancyInterval: -1, UpstreamTimeout: 10 * time.Second})
	viewer := connect(t, e.URL())
	live := make(chan *nats.Msg, 16)
	if _, err := viewer.ChanSubscribe(wire.LiveSubject("m1"), live); err != nil {
		t.Fatal(err)
	}
	_ = viewer.Flush()
	first := receive(t, gets, "the prime") // read at the stream: latest is seq 1

	cid, _ := e.nc.GetClientID()
	if err := s.DisconnectClientByID(cid); err != nil {
		t.Fatal(err)
	}
	// seqs 2 and 3 are stored and published while the edge is away.
	again := receive(t, gets, "the reconnect's prime") // latest is seq 3
	answer := func(req *nats.Msg, seq string) {
		r := nats.NewMsg(req.Reply)
		r.Header.Set(wire.SeqHeader, seq)
		r.Data = []byte("seq " + seq)
		_ = req.RespondMsg(r)
	}
	answer(first, "1") // too late: its request was canceled
	answer(again, "3")
	testenv.WaitFor(t, 5*time.Second, "the prime", func() bool { return testutil.ToFloat64(e.m.primes.WithLabelValues("read")) == 1 })
	if n := testutil.ToFloat64(e.m.primes.WithLabelValues("canceled")); n != 1 {
		t.Errorf("primes canceled: %v, want 1 (the one of the old connection)", n)
	}

	m := nats.NewMsg(wire.LiveSubject("m1"))
	m.Header.Set(wire.SeqHeader, "4")
	m.Header.Set(nats.JSLastSequence, "3")
	m.Data = []byte("seq 4")
	if err := stream.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	receive(t, live, "seq 4 live")
	go func() { // the stream answers 2
		for g := range gets {
			answer(g, "2")
		}
	}()
	body := []byte(`{"seq":2,"next_by_subj":"` + wire.SwarmSubject("m1") + `"}`)
	msg, err := viewer.Request(wire.SwarmsGet, body, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(wire.SeqHeader); got != "2" {
		t.Errorf("next from 2 (missed while disconnected): sequence %s %q, want 2", got, msg.Data)
	}
}
