package fanout

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/wire"
)

// Subscription bounds along the leaf hierarchy, scaled down: what a leaf
// connection carries to its hub (or parent leaf) is one subscription per
// distinct subject its viewers watch, not one per viewer.

// TestViewersPastTheHubsLeafBound: more viewers on a leaf's WebSocket than
// the hub's LeafMaxSubscriptions each get their late-join swarm and the
// live ones. A viewer's reply inbox is in the leaf's account VIEWERS and
// never crosses the link: its request reaches the hub through a service
// import, whose answer comes back on one wildcard (_R_.<id>.>) per leaf.
func TestViewersPastTheHubsLeafBound(t *testing.T) {
	const bound, viewers = 8, 3 * 8
	h := startHubConfig(t, HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
		MaxSubscriptions: bound, LeafMaxSubscriptions: bound, Logger: testLogger()})
	l := startLeaf(t, leafConfig("wide", h.LeafRemote(), false))
	waitLeafs(t, h.embedded, 1)
	checkViewersServed(t, h, l, h.embedded, viewers)
}

// TestViewersPastTheParentLeafsBound: more viewers on a leaf of a leaf than
// the parent's MaxSubscriptions each get their late-join swarm and the
// live ones.
func TestViewersPastTheParentLeafsBound(t *testing.T) {
	const bound, viewers = 8, 3 * 8
	h := startHub(t)
	c := leafConfig("parent", h.LeafRemote(), true)
	c.MaxSubscriptions = bound
	parent := startLeaf(t, c)
	child := startLeaf(t, leafConfig("child", parent.LeafRemote(), false))
	waitLeafs(t, h.embedded, 1)
	waitLeafs(t, parent.embedded, 2) // its hub and the child
	checkViewersServed(t, h, child, parent.embedded, viewers)
}

// checkViewersServed connects n viewers to l's WebSocket, each watching
// match "m", and checks that each gets the latest stored swarm (window 1),
// then the live one of window 2, which up must forward.
func checkViewersServed(t *testing.T, h *Hub, l *Leaf, up *embedded, n int) {
	t.Helper()
	js := stageJS(t, h)
	publishSwarm(t, js, "m", 1)
	live := make([]*nats.Subscription, n)
	for i := range n {
		nc := connect(t, l.WebSocketURL())
		sub, err := nc.SubscribeSync(wire.LiveSubject("m"))
		if err != nil {
			t.Fatal(err)
		}
		live[i] = sub
		if w := lateJoin(t, nc, "m"); w != 1 {
			t.Fatalf("viewer %d of %d: late-join window %d, want 1", i+1, n, w)
		}
	}
	waitInterest(t, up, wire.LiveSubject("m"), 1)
	publishSwarm(t, js, "m", 2)
	for i, sub := range live {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("viewer %d of %d: live swarm: %v", i+1, n, err)
		}
		if w := windowOf(t, m.Data); w != 2 {
			t.Errorf("viewer %d of %d: live window %d, want 2", i+1, n, w)
		}
	}
}

// lateJoin is the window of the latest swarm of match read on nc, asking
// again while a read gets no answer (a link just up), for at most 10 s.
func lateJoin(t *testing.T, nc *nats.Conn, match string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := storedGet(context.Background(), nc, wire.LatestSwarmRequest(match), nil, 2*time.Second)
		switch {
		case err == nil && m != nil:
			return windowOf(t, m.Data)
		case err == nil:
			t.Fatalf("late join of %s: no stored swarm", match)
		case !noAnswer(err) || time.Now().After(deadline):
			t.Fatalf("late join of %s: %v", match, err)
		}
	}
}
