package edge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/emostream/emostream/wire"
)

// infoLine is the INFO the edge greets viewers with.
func infoLine(c Config) []byte {
	b, _ := json.Marshal(map[string]any{
		"server_id": "EDGE-" + c.ID, "server_name": c.ID, "version": "2.11.0", "proto": 1, "go": "emostream-edge",
		"host": "0.0.0.0", "port": 0, "headers": true, "max_payload": c.MaxPayload, "client_id": 0,
	})
	return append(append([]byte("INFO "), b...), "\r\n"...)
}

// reportOccupancy publishes how many viewers watch each match every
// OccupancyInterval (wire.Occupancy, at most wire.MaxOccupancyMatches
// matches per message; one message, maybe empty, at least).
func (e *Edge) reportOccupancy(ctx context.Context) {
	if e.cfg.OccupancyInterval < 0 {
		return
	}
	t := time.NewTicker(e.cfg.OccupancyInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, o := range e.Occupancy(now) {
				b, _ := json.Marshal(o)
				if err := e.nc.Publish(wire.ViewersSubject(e.cfg.ID), b); err == nil {
					e.m.reports.Inc()
				}
			}
		}
	}
}

// Occupancy is this edge's viewer count per match at now, as the reports
// it publishes: the connections with at least one subscription to the
// match's live subject, however many (a connection subscribed to it 16
// times, or to it and to emostream.live.>, is one viewer). A connection
// subscribed only to emostream.live.> watches every match and is counted
// in none (a monitor: counted in each, one connection would add a viewer
// to every match).
func (e *Edge) Occupancy(now time.Time) []wire.Occupancy {
	e.mu.Lock()
	counts := make(map[string]int64, len(e.matches))
	for id, m := range e.matches {
		if id != wildcard && m.viewers > 0 {
			counts[id] = int64(m.viewers)
		}
	}
	e.mu.Unlock()
	var out []wire.Occupancy
	cur := wire.Occupancy{Edge: e.cfg.ID, At: now, Interval: e.cfg.OccupancyInterval,
		MaxConnections: int64(e.cfg.MaxConnections), Matches: map[string]int64{}}
	for id, n := range counts {
		if len(cur.Matches) == wire.MaxOccupancyMatches {
			out = append(out, cur)
			cur.Matches = map[string]int64{}
		}
		cur.Matches[id] = n
	}
	return append(out, cur)
}
