package web_test

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// timeline is a test double of our own HTTP API's GET
// /v1/matches/{id}/timeline (docs/api.md) for step=2s only: it sums the
// swarms this harness published (windows are 2 s here, so one step each)
// and lists their moments. It stands in for ingest, not for Kafka or NATS.
func (f *fakeIngest) timeline(w http.ResponseWriter, r *http.Request) {
	if step := r.URL.Query().Get("step"); step != "2s" {
		writeJSON(w, 400, map[string]any{"error": "bad_timeline_query", "message": "this test double serves step=2s only"})
		return
	}
	f.mu.Lock()
	swarms := append([]*wire.Swarm(nil), f.stored[r.PathValue("id")]...)
	f.mu.Unlock()
	if len(swarms) == 0 {
		writeJSON(w, 404, map[string]any{"error": "unknown_match", "message": "no such match"})
		return
	}
	sort.Slice(swarms, func(i, j int) bool { return swarms[i].WindowStart.Before(swarms[j].WindowStart) })
	type step struct {
		Start  time.Time        `json:"start"`
		End    time.Time        `json:"end"`
		Counts map[string]int64 `json:"counts"`
		Total  int64            `json:"total"`
	}
	var steps []step
	totals := map[string]int64{}
	var total int64
	moments := []wire.Moment{}
	for _, s := range swarms {
		steps = append(steps, step{s.WindowStart, s.WindowEnd, s.Counts, s.Total})
		for e, n := range s.Counts {
			totals[e] += n
		}
		total += s.Total
		moments = append(moments, s.Moments...)
	}
	writeJSON(w, 200, map[string]any{"match_id": r.PathValue("id"), "step": "2s", "from": swarms[0].WindowStart,
		"to": time.Now().UTC(), "steps": steps, "totals": totals, "total": total, "moments": moments})
}

// publishWindow stores a swarm of match for the window starting at start
// (a past one, for the timeline), with moments and a viewer count.
func (f *fakeIngest) publishWindow(match string, start time.Time, counts map[string]int64, viewers int64, moments ...wire.Moment) *wire.Swarm {
	f.t.Helper()
	sw := &wire.Swarm{MatchID: match, WindowStart: start, WindowEnd: start.Add(testWindow), Counts: counts,
		Swarm: map[string]int64{}, Partitions: 1, ClosedBy: wire.ClosedByAllPartitions, PublishedAt: time.Now(),
		Viewers: viewers, Moments: moments}
	for _, n := range counts {
		sw.Total += n
	}
	f.store(sw)
	return sw
}

// forge publishes body on match's live subject directly, as a viewer
// aiming a reply there could.
func (n *natsServer) forge(match string, body []byte) {
	n.t.Helper()
	if err := n.JS.Conn().Publish(wire.LiveSubject(match), body); err != nil {
		n.t.Fatal(err)
	}
	if err := n.JS.Conn().Flush(); err != nil {
		n.t.Fatal(err)
	}
}

// withoutRePublish stores what fn publishes without the stream's RePublish
// to the live subjects, as if the live messages were lost on the way.
func (n *natsServer) withoutRePublish(fn func()) {
	n.t.Helper()
	var re *jetstream.RePublish
	n.updateSwarms(func(cfg *jetstream.StreamConfig) { re, cfg.RePublish = cfg.RePublish, nil })
	fn()
	n.updateSwarms(func(cfg *jetstream.StreamConfig) { cfg.RePublish = re })
}

// setDirect turns the swarm stream's direct gets on or off (off: they
// have no responders).
func (n *natsServer) setDirect(on bool) {
	n.t.Helper()
	n.updateSwarms(func(cfg *jetstream.StreamConfig) { cfg.AllowDirect = on })
}

// updateSwarms changes the swarm stream's configuration with change.
func (n *natsServer) updateSwarms(change func(*jetstream.StreamConfig)) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := n.JS.Stream(ctx, wire.SwarmsStream)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	change(&cfg)
	if _, err := n.JS.UpdateStream(ctx, cfg); err != nil {
		n.t.Fatalf("updating %s: %v", wire.SwarmsStream, err)
	}
}

// withoutViewers restarts the server with its WebSocket listener off (so
// the browser stays disconnected while the test publishes), runs fn, then
// restarts it with the listener on again.
func (n *natsServer) withoutViewers(fn func()) {
	n.t.Helper()
	ws := n.opts.Websocket
	n.opts.Websocket = server.WebsocketOpts{}
	n.restart()
	n.opts.Websocket = ws
	fn()
	n.restart()
}
