package edge

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestPingAndTLS: a nats.go viewer over wss:// answers the edge's pings
// and keeps receiving swarms across many ping intervals.
func TestPingAndTLS(t *testing.T) {
	certs := testenv.NewCerts(t)
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), TLSCert: certs.ServerCertFile, TLSKey: certs.ServerKeyFile,
		PingInterval: 200 * time.Millisecond, MaxPingsOut: 2})
	if e.URL()[:6] != "wss://" {
		t.Fatalf("URL %s", e.URL())
	}
	nc := connect(t, e.URL(), nats.RootCAs(certs.CAFile))
	live := subscribe(t, nc, wire.LiveSubject("m1"))
	start := time.Now()
	for w := 0; w < 2000 && time.Since(start) < 10*200*time.Millisecond; w++ { // swarms across 10 ping intervals
		wd.publish(t, "m1", w)
		testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("swarm %d", w), func() bool { return live.len() == w+1 })
	}
	if !nc.IsConnected() || nc.Stats().Reconnects != 0 {
		t.Fatalf("connected %v, reconnects %d", nc.IsConnected(), nc.Stats().Reconnects)
	}
}

// TestOccupancy: one report per MaxOccupancyMatches matches, counting
// viewers per match, the wildcard left out.
func TestOccupancy(t *testing.T) {
	e := &Edge{cfg: Config{ID: "e1", OccupancyInterval: time.Second}, matches: map[string]*match{}}
	n := wire.MaxOccupancyMatches + 5
	for i := range n {
		e.matches[fmt.Sprint("m", i)] = &match{refs: 16, viewers: i%3 + 1}
	}
	e.matches[wildcard] = &match{refs: 7, viewers: 7}
	reports := e.Occupancy(time.Now())
	if len(reports) != 2 || len(reports[0].Matches) != wire.MaxOccupancyMatches || len(reports[1].Matches) != 5 {
		t.Fatalf("%d reports", len(reports))
	}
	total := map[string]int64{}
	for _, r := range reports {
		if r.Edge != "e1" || r.Interval != time.Second {
			t.Errorf("report %+v", r)
		}
		for m, c := range r.Matches {
			total[m] += c
		}
	}
	if len(total) != n || total["m4"] != 2 || total[wildcard] != 0 {
		t.Errorf("counts %d matches, m4 %d", len(total), total["m4"])
	}
	if got := (&Edge{cfg: Config{ID: "e"}, matches: map[string]*match{}}).Occupancy(time.Now()); len(got) != 1 || len(got[0].Matches) != 0 {
		t.Errorf("no viewers: %+v, want one empty report", got)
	}
}
