package edge

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

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
