package edge

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestViewersWaitingInTheBacklog: viewers that connected and sent their
// upgrade requests before the edge took any connection are all upgraded,
// get INFO, and are counted in.
//
// Under go test -race it is also the test of showHandOff: nbio's poller
// reads such a connection as soon as the accept goroutine registers it,
// and without showHandOff the race detector reports that read as racing
// with the accept whenever it comes before the accept's next step (most
// runs: each round is another chance).
func TestViewersWaitingInTheBacklog(t *testing.T) {
	wd := startWorld(t)
	const rounds, viewers = 4, 128
	for r := range rounds {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		clients := make([]*rawClient, viewers)
		for i := range clients {
			clients[i] = dialRawAddr(t, ln.Addr().String())
			fmt.Fprint(clients[i].conn, upgradeRequest)
		}
		e, stop := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), Listener: ln})
		for i, c := range clients {
			_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(c.r, nil)
			if err != nil {
				t.Fatalf("round %d, viewer %d: %v", r, i, err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("round %d, viewer %d: status %d", r, i, resp.StatusCode)
			}
			if got, _ := c.until("INFO ", 10*time.Second); !strings.HasPrefix(got, "INFO ") {
				t.Fatalf("round %d, viewer %d: got %q, want INFO", r, i, got)
			}
		}
		if got := testutil.ToFloat64(e.m.accepted); got != viewers {
			t.Errorf("round %d: %v connections accepted, want %d", r, got, viewers)
		}
		stop()
	}
}
