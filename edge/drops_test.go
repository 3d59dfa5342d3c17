package edge

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// When the delivery workers fall behind by livePending bytes, nats.go drops
// live messages of the one live subscription: the edge counts them in
// swarms_dropped_total and reads its caches again, so a next request for a
// dropped swarm is not answered from a ring with a hole.
func TestUpstreamDropsAreCountedAndForgetTheRing(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one delivery worker
	up, held := startStallingUpstream(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e, _ := startEdge(t, Config{NATSURL: up, OccupancyInterval: -1}, func(e *Edge) {
		e.hook = func(where string, data []byte) {
			if where == panicUpstream && string(data) == "first" {
				once.Do(func() { close(entered); <-release })
			}
		}
	})
	unstall := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unstall) // before the edge's cleanup, which waits for its worker
	viewer := connect(t, e.URL())
	live := make(chan *nats.Msg, 16)
	if _, err := viewer.ChanSubscribe(wire.LiveSubject("m1"), live); err != nil {
		t.Fatal(err)
	}
	notFound(t, receive(t, held, "the prime")) // primed: no swarm stored yet
	testenv.WaitFor(t, 5*time.Second, "the prime", func() bool { return testutil.ToFloat64(e.m.primes.WithLabelValues("read")) == 1 })

	pub := connect(t, up)
	n := 0
	send := func(match string, data []byte) {
		n++
		m := nats.NewMsg(wire.LiveSubject(match))
		m.Header.Set(wire.SeqHeader, strconv.Itoa(n))
		m.Header.Set(nats.JSLastSequence, strconv.Itoa(n-1))
		m.Data = data
		if err := pub.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	send("m1", []byte("first")) // seq 1: its worker stalls on it
	<-entered
	for range 300 { // another match's swarms fill the worker's queue
		send("m2", []byte("small"))
	}
	big := bytes.Repeat([]byte("x"), 1_000_000)
	for range 70 { // and the subscription's pending bytes
		send("m2", big)
	}
	send("m1", bytes.Repeat([]byte("s"), 200_000)) // dropped: past the pending bytes
	dropped := n
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the edge to read them all", func() bool { return e.nc.Stats().InMsgs >= uint64(n)+1 })
	testenv.WaitFor(t, 5*time.Second, "the drop counted", func() bool { return testutil.ToFloat64(e.m.dropped) > 0 })

	stop := make(chan struct{})
	defer close(stop)
	go func() { // the stream: the latest of m1, and the next from the dropped one, is the dropped one
		for {
			select {
			case <-stop:
				return
			case g := <-held:
				if strings.HasSuffix(g.Subject, wire.LatestSwarmRequest("m1")) || bytes.Contains(g.Data, []byte(wire.SwarmSubject("m1"))) {
					r := nats.NewMsg(g.Reply)
					r.Header.Set(wire.SeqHeader, strconv.Itoa(dropped))
					r.Data = []byte("dropped")
					_ = g.RespondMsg(r)
				}
			}
		}
	}()
	unstall()
	send("m1", []byte("third"))
	for m := receive(t, live, "a live swarm"); string(m.Data) != "third"; m = receive(t, live, "a live swarm") {
	}

	body := []byte(`{"seq":` + strconv.Itoa(dropped) + `,"next_by_subj":"` + wire.SwarmSubject("m1") + `"}`)
	msg, err := viewer.Request(wire.SwarmsGet, body, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(wire.SeqHeader); got != strconv.Itoa(dropped) {
		t.Errorf("next from %d (dropped upstream): sequence %s %q, want %d", dropped, got, msg.Data, dropped)
	}
	d, _ := e.live.Load().Dropped()
	if got := testutil.ToFloat64(e.m.dropped); got != float64(d) || d == 0 {
		t.Errorf("swarms_dropped_total %v, want the subscription's dropped, %d", got, d)
	}
	if got, want := testutil.ToFloat64(e.m.swarms), float64(n-d); got != want {
		t.Errorf("swarms_received_total %v, want %v (published, less dropped)", got, want)
	}
}
