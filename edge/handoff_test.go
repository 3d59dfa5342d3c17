package edge

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

// TestHandOffCheckedAgainstThisNbio fails on an nbio upgrade until somebody
// has read the new nbhttp.NewEngine for hooks showHandOff would replace
// (an OnOpen of its own, an OnData doing more than calling the
// connection's data handler) and moved handOffCheckedOn: no test can see
// such a hook, since nbio's setters replace and nothing reads them back.
func TestHandOffCheckedAgainstThisNbio(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/lesismal/nbio (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod requires no github.com/lesismal/nbio")
	}
	if v := string(m[1]); v != handOffCheckedOn {
		t.Errorf("go.mod requires nbio %s, showHandOff was checked against %s: read nbhttp/engine.go's NewEngine for OnOpen and OnData, then move handOffCheckedOn", v, handOffCheckedOn)
	}
}
