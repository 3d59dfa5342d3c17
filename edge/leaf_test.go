package edge

import (
	"encoding/json"
	"slices"
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
	return fanouttest.StartLeaf(t, cfg)
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

// leafInterest reports whether the hub sends match's live subject to a leaf.
func leafInterest(wd *world, match string) bool {
	lz, err := wd.hub.Server().Leafz(&server.LeafzOptions{Subscriptions: true})
	if err != nil {
		return false
	}
	for _, lf := range lz.Leafs {
		if slices.Contains(lf.Subs, wire.LiveSubject(match)) {
			return true
		}
	}
	return false
}
