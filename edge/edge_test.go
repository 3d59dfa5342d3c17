package edge

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestViewerWatches: nats.go over ws:// subscribes to a match, asks for the
// latest swarm (late join) and for the next ones, and receives every live
// swarm once, in order, with its sequence.
func TestViewerWatches(t *testing.T) {
	wd := startWorld(t)
	first := wd.publish(t, "m1", 0)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL()})
	nc := connect(t, e.URL())
	live := subscribe(t, nc, wire.LiveSubject("m1"))
	other := subscribe(t, nc, wire.LiveSubject("m2"))

	msg, err := nc.Request(wire.LatestSwarmRequest("m1"), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := windowOf(t, msg.Data); got != 0 || seqHeaderOf(t, msg) != first {
		t.Fatalf("latest: window %d seq %s, want 0 and %d", got, msg.Header.Get(wire.SeqHeader), first)
	}
	var want []int
	for w := 1; w <= 5; w++ {
		wd.publish(t, "m1", w)
		want = append(want, w)
	}
	testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%d live swarms", len(want)), func() bool { return live.len() == len(want) })
	if got := live.windows(t); !slices.Equal(got, want) {
		t.Fatalf("live windows %v, want %v", got, want)
	}
	for i, m := range live.msgs {
		if seq := seqHeaderOf(t, m); seq != first+uint64(i)+1 {
			t.Errorf("live swarm %d: seq %d, want %d", i, seq, first+uint64(i)+1)
		}
	}
	if other.len() != 0 {
		t.Errorf("m2's viewer got %d messages", other.len())
	}
	// next: from the ring, from the upstream (before the ring), none after
	for _, c := range []struct {
		seq    uint64
		window int
	}{{first + 2, 2}, {first, 0}, {first + 1, 1}, {first + 5, 5}, {first + 6, -1}} {
		msg, err := nc.Request(wire.SwarmsGet, wire.SwarmsAfter("m1", c.seq), 5*time.Second)
		if err != nil {
			t.Fatalf("next %d: %v", c.seq, err)
		}
		if c.window < 0 {
			if msg.Header.Get("Status") != "404" {
				t.Errorf("next %d: %v %q, want 404", c.seq, msg.Header, msg.Data)
			}
			continue
		}
		if got := windowOf(t, msg.Data); got != c.window {
			t.Errorf("next %d: window %d, want %d", c.seq, got, c.window)
		}
	}
	// latest of a match nobody watches here: upstream, 404
	msg, err = nc.Request(wire.LatestSwarmRequest("nobody"), nil, 5*time.Second)
	if err != nil || msg.Header.Get("Status") != "404" {
		t.Fatalf("latest of an empty match: %v %v", msg, err)
	}
	// the watched matches' latest came from the cache (subscribe asks once
	// per match, then the test once); the edge asked the upstream only to
	// prime them and for the unwatched match
	for _, c := range []struct {
		answer string
		want   float64
	}{{"cache", 3}, {"upstream", 1}} {
		if got := testutil.ToFloat64(e.m.requests.WithLabelValues("latest", c.answer)); got != c.want {
			t.Errorf("latest answered from %s: %v, want %v", c.answer, got, c.want)
		}
	}
}

// TestWildcardViewer: emostream.live.> gets every match's swarms.
func TestWildcardViewer(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL()})
	nc := connect(t, e.URL())
	all := subscribe(t, nc, wire.LiveSubjects)
	one := subscribe(t, nc, wire.LiveSubject("a"))
	wd.publish(t, "a", 1)
	wd.publish(t, "b", 2)
	testenv.WaitFor(t, 5*time.Second, "2 and 1 swarms", func() bool { return all.len() == 2 && one.len() == 1 })
	if got := all.windows(t); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("wildcard got %v", got)
	}
}

// TestFramedOncePerGroup: viewers of a match that share a sid (and header
// support) are one group, framed once per swarm.
func TestFramedOncePerGroup(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL()})
	var boxes []*inbox
	for range 20 {
		boxes = append(boxes, subscribe(t, connect(t, e.URL()), wire.LiveSubject("m1"))) // sid 1 on each
	}
	e.mu.Lock()
	m := e.matches["m1"]
	e.mu.Unlock()
	m.mu.RLock()
	groups, size := len(m.groups), len(m.groups[groupKey{"1", true}].subs)
	m.mu.RUnlock()
	if groups != 1 || size != 20 {
		t.Fatalf("%d groups, %d viewers in sid 1's, want 1 and 20", groups, size)
	}
	wd.publish(t, "m1", 1)
	for i, b := range boxes {
		testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("viewer %d's swarm", i), func() bool { return b.len() == 1 })
	}
}

// TestLiveCarriesLastSequence: live messages on the edge carry
// Nats-Last-Sequence as the stream's RePublish sets it (the sequence of the
// match's previous stored swarm), which the gap rule reads (docs/api.md):
// with two live matches, whose swarms interleave in the stream, and a
// match quiet every other window, a fanout.Watcher on the edge makes no
// request beyond its join, as one on the hub.
func TestLiveCarriesLastSequence(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), OccupancyInterval: -1})
	type watching struct {
		w     *fanout.Watcher
		shown atomic.Int64
	}
	watch := func(url string) *watching {
		var v watching
		w, err := fanout.NewWatcher(connect(t, url), fanout.WatchConfig{Match: "m1",
			OnSwarm: func([]byte, fanout.Source) { v.shown.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go func() { _ = w.Run(ctx) }()
		v.w = w
		return &v
	}
	onHub, onEdge := watch(wd.hub.ClientURL()), watch(e.URL())
	live := subscribe(t, connect(t, e.URL()), wire.LiveSubject("m1"))
	testenv.WaitFor(t, 5*time.Second, "both watchers' join", func() bool {
		return onHub.w.Stats().Requests.Load() == 1 && onEdge.w.Stats().Requests.Load() == 1
	})

	const n = 10
	var prev []uint64 // each m1 swarm's previous m1 sequence
	var last uint64
	for w := range n {
		prev = append(prev, last)
		last = wd.publish(t, "m1", 2*w) // m1 is quiet every other window
		wd.publish(t, "m2", 2*w)        // m2's swarms come between m1's in the stream
	}
	testenv.WaitFor(t, 10*time.Second, "every swarm shown", func() bool {
		return onHub.shown.Load() == n && onEdge.shown.Load() == n && live.len() == n
	})
	for i, m := range live.msgs {
		if got := m.Header.Get("Nats-Last-Sequence"); got != strconv.FormatUint(prev[i], 10) {
			t.Errorf("live swarm %d: headers %v, want Nats-Last-Sequence %d", i, m.Header, prev[i])
		}
	}
	if hub, edge := onHub.w.Stats().Requests.Load(), onEdge.w.Stats().Requests.Load(); edge != hub {
		t.Errorf("requests of a watcher that missed nothing: %d on the edge, %d on the hub", edge, hub)
	}
}
