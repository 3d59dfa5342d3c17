package edge

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestOccupancyCountsConnections: an edge on a leaf of a hub counts
// connections, not subscriptions. Viewers over WebSocket: A holds 16
// subscriptions to m1, and the reports that reach the hub say m1 1, with
// the edge's connection cap. Then B subscribes to m1 and to
// emostream.live.>, C only to emostream.live.>, D twice to m2: m1 2 and m2
// 1 (C is a viewer of no match). As A drops all but one subscription m1
// stays 2, when D leaves m2 is gone, and when A drops its last m1 is 1.
func TestOccupancyCountsConnections(t *testing.T) {
	wd := startWorld(t)
	leaf := startLeaf(t, wd, fanout.LeafConfig{Name: "leaf-1"})
	e, _ := startEdge(t, Config{NATSURL: leaf.EdgeUpstream(), Domain: fanout.HubDomain, ID: "edge-1",
		OccupancyInterval: 100 * time.Millisecond, MaxConnections: 500})
	reports := subscribe(t, connect(t, wd.hub.ClientURL()), wire.ViewersSubjects)
	a, b, c, d := connect(t, e.URL()), connect(t, e.URL()), connect(t, e.URL()), connect(t, e.URL())
	var aSubs []*nats.Subscription
	for range DefaultMaxSubscriptions {
		s, err := a.SubscribeSync(wire.LiveSubject("m1"))
		if err != nil {
			t.Fatal(err)
		}
		aSubs = append(aSubs, s)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	waitReport(t, reports, map[string]int64{"m1": 1})
	for _, s := range []struct {
		nc      *nats.Conn
		subject string
	}{{b, wire.LiveSubject("m1")}, {b, wire.LiveSubjects}, {c, wire.LiveSubjects}, {d, wire.LiveSubject("m2")},
		{d, wire.LiveSubject("m2")}} {
		if _, err := s.nc.SubscribeSync(s.subject); err != nil {
			t.Fatal(err)
		}
	}
	for _, nc := range []*nats.Conn{a, b, c, d} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	waitReport(t, reports, map[string]int64{"m1": 2, "m2": 1})
	for _, s := range aSubs[1:] {
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	waitReport(t, reports, map[string]int64{"m1": 2})
	if err := aSubs[0].Unsubscribe(); err != nil || a.Flush() != nil {
		t.Fatal(err)
	}
	waitReport(t, reports, map[string]int64{"m1": 1})
}

// waitReport waits for edge-1's report of exactly want, with its
// connection cap.
func waitReport(t *testing.T, reports *inbox, want map[string]int64) {
	t.Helper()
	var last string
	ok := testenv.Until(10*time.Second, func() bool {
		reports.mu.Lock()
		defer reports.mu.Unlock()
		if len(reports.msgs) == 0 {
			return false
		}
		m := reports.msgs[len(reports.msgs)-1]
		last = string(m.Data)
		var o wire.Occupancy
		return json.Unmarshal(m.Data, &o) == nil && o.Edge == "edge-1" && o.MaxConnections == 500 &&
			fmt.Sprint(o.Matches) == fmt.Sprint(want)
	})
	if !ok {
		t.Fatalf("no report of %v with the connection cap; the last: %s", want, last)
	}
}
