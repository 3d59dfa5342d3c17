package stack_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
)

// TestViewerEntryPoints: by default viewers come through one edge per
// leaf; with LeafWebSocket through the leaves' own listeners, and no edge
// runs. Either way a viewer gets the posted counts.
func TestViewerEntryPoints(t *testing.T) {
	for _, leafWS := range []bool{false, true} {
		t.Run(fmt.Sprintf("LeafWebSocket=%v", leafWS), func(t *testing.T) {
			st := startStackWith(t, stack.Config{Window: 500 * time.Millisecond, LeafWebSocket: leafWS,
				WebSocketListens: []string{"127.0.0.1:0"}, Registry: registry.Config{AutoMatches: 1000}})
			urls := st.WebSocketURLs()
			if len(urls) != 1 || (len(st.Edges) == 1) == leafWS || (urls[0] == st.Leaves[0].WebSocketURL()) != leafWS {
				t.Fatalf("URLs %v, %d edges, leaf WebSocket %q", urls, len(st.Edges), st.Leaves[0].WebSocketURL())
			}
			v := watch(t, urls[0])
			var evs []map[string]string
			for i := range 20 {
				evs = append(evs, map[string]string{"user_id": fmt.Sprint("u", i), "match_id": "m", "emoji_type": "🔥",
					"event_id": fmt.Sprint("e", i)})
			}
			post(t, st.HTTPURL(), evs)
			testenv.WaitFor(t, 30*time.Second, "20 events counted", func() bool { return v.total() == 20 })
		})
	}
}
