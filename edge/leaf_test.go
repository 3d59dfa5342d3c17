package edge

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/fanout/fanouttest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

func startLeaf(t testing.TB, wd *world, cfg fanout.LeafConfig) *fanout.Leaf {
	t.Helper()
	cfg.Remotes = []string{wd.hub.LeafRemote()}
	cfg.WebSocketListen = "127.0.0.1:0"
	l := fanouttest.StartLeaf(t, cfg)
	// The link is up before the hub's interest in its JetStream API has
	// crossed it, and an edge's late-join request in between gets "no
	// responders": wait for one to be answered (the world's swarm stream
	// exists, so a match without swarms gets a 404).
	nc := connect(t, l.EdgeUpstream())
	probe := "$JS." + fanout.HubDomain + ".API." + strings.TrimPrefix(wire.LatestSwarmRequest("edge-test-probe"), "$JS.API.")
	testenv.WaitFor(t, 10*time.Second, "the hub's JetStream through the leaf", func() bool {
		_, err := nc.Request(probe, nil, time.Second)
		return err == nil
	})
	nc.Close()
	return l
}

// TestEdgeOnLeaf: an edge on a leaf cluster's client port (user edge)
// reads live swarms, answers latest and next (older ones through the leaf
// to the hub's JetStream), and its occupancy reports reach the hub.
func TestEdgeOnLeaf(t *testing.T) {
	wd := startWorld(t)
	first := wd.publish(t, "m1", 0)
	leaf := startLeaf(t, wd, fanout.LeafConfig{Name: "leaf-1"})
	e, _ := startEdge(t, Config{NATSURL: leaf.EdgeUpstream(), Domain: fanout.HubDomain, ID: "edge-1",
		OccupancyInterval: 100 * time.Millisecond})
	reports := subscribe(t, connect(t, wd.hub.ClientURL()), wire.ViewersSubjects)

	nc := connect(t, e.URL())
	live := subscribe(t, nc, wire.LiveSubject("m1"))
	msg, err := nc.Request(wire.LatestSwarmRequest("m1"), nil, 5*time.Second)
	if err != nil || windowOf(t, msg.Data) != 0 {
		t.Fatalf("latest: %v %v", msg, err)
	}
	testenv.WaitFor(t, 10*time.Second, "the leaf's interest at the hub", func() bool { return leafInterest(wd, "m1") })
	for w := 1; w <= 3; w++ {
		wd.publish(t, "m1", w)
	}
	testenv.WaitFor(t, 5*time.Second, "3 live swarms", func() bool { return live.len() == 3 })
	if got := live.windows(t); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("live %v", got)
	}
	msg, err = nc.Request(wire.SwarmsGet, wire.SwarmsAfter("m1", first), 5*time.Second) // before the ring: upstream
	if err != nil || windowOf(t, msg.Data) != 0 || seqHeaderOf(t, msg) != first {
		t.Fatalf("next from %d: %v %v", first, msg, err)
	}
	testenv.WaitFor(t, 10*time.Second, "an occupancy report of 1 viewer", func() bool {
		reports.mu.Lock()
		defer reports.mu.Unlock()
		for _, m := range reports.msgs {
			var o wire.Occupancy
			if json.Unmarshal(m.Data, &o) == nil && o.Edge == "edge-1" && o.Matches["m1"] == 1 && m.Subject == wire.ViewersSubject("edge-1") {
				return true
			}
		}
		return false
	})
}

// leafInterest reports whether the hub sends match's live subject to a
// leaf: the leaf has interest in it, or in every match's.
func leafInterest(wd *world, match string) bool {
	lz, err := wd.hub.Server().Leafz(&server.LeafzOptions{Subscriptions: true})
	if err != nil {
		return false
	}
	for _, lf := range lz.Leafs {
		if slices.Contains(lf.Subs, wire.LiveSubject(match)) || slices.Contains(lf.Subs, wire.LiveSubjects) {
			return true
		}
	}
	return false
}

// TestMatchesPastTheLeafsSubscriptionCap: the leaf caps an edge's
// connection at LeafMaxSubscriptions (65,536; here 256, a viewer's
// bound), and an edge takes up to MaxMatches (10,000) matches. A hostile
// viewer that watches 255 made-up matches (17 connections of 15) takes
// nothing from the viewers of real matches, while it watches and after it
// left: the edge reads every match on one upstream subscription, so it
// holds at most two on the leaf (that one and nats.go's reply inbox)
// however many matches its viewers watch.
func TestMatchesPastTheLeafsSubscriptionCap(t *testing.T) {
	wd := startWorld(t)
	leaf := startLeaf(t, wd, fanout.LeafConfig{Name: "leaf-1", LeafMaxSubscriptions: fanout.DefaultLeafMaxSubs})
	e, _ := startEdge(t, Config{NATSURL: leaf.EdgeUpstream(), Domain: fanout.HubDomain, ID: "edge-1", OccupancyInterval: -1})
	attackers := watchMany(t, e, "fake", 17, 15)
	matches := func(n int) func() bool {
		return func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return len(e.matches) == n
		}
	}
	testenv.WaitFor(t, 5*time.Second, "255 made-up matches watched", matches(255))

	watch := func(match string) {
		t.Helper()
		live := subscribe(t, connect(t, e.URL()), wire.LiveSubject(match))
		testenv.WaitFor(t, 10*time.Second, "the leaf's interest at the hub", func() bool { return leafInterest(wd, match) })
		wd.publish(t, match, 0)
		wd.publish(t, match, 1)
		testenv.WaitFor(t, 5*time.Second, "2 live swarms of "+match, func() bool { return live.len() == 2 })
	}
	watch("final")
	for _, nc := range attackers {
		nc.Close()
	}
	testenv.WaitFor(t, 5*time.Second, "the made-up matches gone", matches(1))
	watch("replay")

	cz, err := leaf.Server().Connz(&server.ConnzOptions{Subscriptions: true})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cz.Conns, func(c *server.ConnInfo) bool { return c.Name == "emostream-edge edge-1" })
	if i < 0 {
		t.Fatal("the edge's connection is not on the leaf")
	}
	if c := cz.Conns[i]; c.NumSubs > 2 {
		t.Errorf("the edge holds %d subscriptions on the leaf (%v), want at most 2", c.NumSubs, c.Subs)
	}
}
