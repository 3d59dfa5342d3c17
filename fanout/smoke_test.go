package fanout

import (
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

func TestSmoke2(t *testing.T) {
	h := startHub(t)
	js := stageJS(t, h)
	l := startLeaf(t, leafConfig("a", h.LeafRemote(), true))
	l2 := startLeaf(t, leafConfig("a2", l.LeafRemote(), false))
	waitLeafs(t, h.embedded, 1)
	waitLeafs(t, l.embedded, 2)
	publishSwarm(t, js, "m1", 1)
	for _, u := range []string{l.WebSocketURL(), l2.WebSocketURL()} {
		nc := connect(t, u)
		m, err := nc.Request(wire.LatestSwarmRequest("m1"), nil, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("viewer: %s %v", m.Data, m.Header)
	}
}
