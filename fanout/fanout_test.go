package fanout

import (
	"testing"

	"github.com/emostream/emostream/wire"
)

// tree is a hub, two leaf clusters a and b, and a1, a leaf of a.
type tree struct {
	hub      *Hub
	a, b, a1 *Leaf
}

func startTree(t *testing.T) tree {
	t.Helper()
	h := startHub(t)
	tr := tree{hub: h}
	tr.a = startLeaf(t, leafConfig("leaf-a", h.LeafRemote(), true))
	tr.b = startLeaf(t, leafConfig("leaf-b", h.LeafRemote(), false))
	tr.a1 = startLeaf(t, leafConfig("leaf-a1", tr.a.LeafRemote(), false))
	waitLeafs(t, h.embedded, 2)
	waitLeafs(t, tr.a.embedded, 2) // its hub and a1
	return tr
}

func (tr tree) leaves() map[string]*Leaf {
	return map[string]*Leaf{"a": tr.a, "b": tr.b, "a1": tr.a1}
}

// TestFanOutTree: swarms stored at the hub reach a viewer on every leaf,
// including a leaf of a leaf, exactly once and in window order, even when
// the processor publishes a window twice.
func TestFanOutTree(t *testing.T) {
	tr := startTree(t)
	js := stageJS(t, tr.hub)
	viewers := map[string]*recorder{}
	for name, l := range tr.leaves() {
		viewers[name] = watch(t, connect(t, l.WebSocketURL()), "final")
	}
	live := wire.LiveSubject("final")
	waitInterest(t, tr.hub.embedded, live, 2)
	waitInterest(t, tr.a.embedded, live, 1)

	var want []int
	for w := 1; w <= 10; w++ {
		publishSwarm(t, js, "final", w)
		if w == 5 {
			publishSwarm(t, js, "final", w) // a retry: deduplicated by Nats-Msg-Id
		}
		want = append(want, w)
	}
	publishSwarm(t, js, "other", 1) // another match is not delivered
	for name, r := range viewers {
		waitWindows(t, name, r, want)
	}
}

// TestLateJoin: a viewer who joins mid-match gets the latest swarm at once,
// marked latest, then live ones.
func TestLateJoin(t *testing.T) {
	tr := startTree(t)
	js := stageJS(t, tr.hub)
	for w := 1; w <= 3; w++ {
		publishSwarm(t, js, "semi", w)
	}
	viewers := map[string]*recorder{}
	for name, l := range tr.leaves() {
		r := watch(t, connect(t, l.WebSocketURL()), "semi")
		waitWindows(t, name, r, []int{3})
		if !r.latest[0] {
			t.Errorf("%s: first swarm not marked latest", name)
		}
		viewers[name] = r
	}
	live := wire.LiveSubject("semi")
	waitInterest(t, tr.hub.embedded, live, 2)
	waitInterest(t, tr.a.embedded, live, 1)
	publishSwarm(t, js, "semi", 4)
	publishSwarm(t, js, "semi", 5)
	for name, r := range viewers {
		waitWindows(t, name, r, []int{3, 4, 5})
	}
}
