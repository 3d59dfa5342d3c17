package bridge

import (
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/wire"
)

// swarmSums subscribes to every live swarm and sums its counts per match.
func swarmSums(t *testing.T, nc *nats.Conn) func() wire.Counts {
	var mu sync.Mutex
	sum := wire.Counts{}
	if _, err := nc.Subscribe(wire.LiveSubjects, func(m *nats.Msg) {
		sw, err := wire.DecodeSwarm(m.Data)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for e, n := range sw.Counts {
			sum.Add(sw.MatchID, e, n)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() wire.Counts {
		mu.Lock()
		defer mu.Unlock()
		out := wire.Counts{}
		for m, es := range sum {
			out[m] = maps.Clone(es)
		}
		return out
	}
}

// A partition moves from a bridge whose clock is 10 s ahead to one whose
// clock is right (a rebalance, or a restart after NTP corrected the
// host): its floor does not go back, so the new owner counts late into
// the windows the first one opened, and every event reaches a swarm. A
// floor sent back to the window of now made the processor skip the
// earlier windows' partials, at higher sequences (matchState.counted),
// and lose what the first bridge had counted.
func TestResumeBehindAClockThatWasAhead(t *testing.T) {
	e := newEnv(t, 1)
	sums := swarmSums(t, e.nc)
	pr, err := processor.New(processor.Config{NATSURL: e.nats.URL, Partitions: 2, Window: testWindow,
		PartitionWait: 300 * time.Millisecond, RestartGrace: -1, PinnedTTL: 2 * time.Second,
		Logger: testenv.Logger(t), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "processor", pr.Run)

	ahead := e.config(prometheus.NewRegistry())
	ahead.Now = func() time.Time { return time.Now().Add(10 * time.Second) }
	stopAhead := e.start(ahead)
	e.produce(30, false)
	e.waitCovered()
	w0 := wire.WindowStart(ahead.Now().UnixMilli(), testWindow.Milliseconds())
	testenv.WaitFor(t, 5*time.Second, "the next window of the clock ahead", func() bool {
		return wire.WindowStart(ahead.Now().UnixMilli(), testWindow.Milliseconds()) > w0
	})
	e.produce(30, false)
	e.waitCovered()
	stopAhead()

	e.start(e.config(prometheus.NewRegistry()))
	e.produce(30, false)
	e.waitCovered()
	// Every window of the first bridge is past its deadline 12 s from now.
	testenv.WaitFor(t, 20*time.Second, "swarms summing to every event", func() bool {
		return maps.EqualFunc(sums(), e.want, maps.Equal)
	})
}
