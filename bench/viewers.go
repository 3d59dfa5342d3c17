package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/wire"
)

// viewerGroup is a set of WebSocket viewers in this process, each on its
// own connection subscribed to every match's live swarms.
type viewerGroup struct {
	conns   []*nats.Conn
	viewers []*viewer
}

// viewer is what one viewer received.
type viewer struct {
	mu       sync.Mutex
	seen     map[windowKey]int
	receipts []receipt
}

type receipt struct {
	key   windowKey
	endMs int64
	at    int64 // Unix ns
	total int64
}

// startViewers connects n viewers, spread over urls, and subscribes them.
func startViewers(urls []string, n int) (*viewerGroup, error) {
	g := &viewerGroup{}
	for i := range n {
		url := urls[i%len(urls)]
		nc, err := nats.Connect(url, nats.Name(fmt.Sprintf("emostream bench viewer %d", i)), nats.MaxReconnects(-1))
		if err != nil {
			g.close()
			return nil, fmt.Errorf("bench: viewer %d connecting to %s: %w", i, url, err)
		}
		g.conns = append(g.conns, nc)
		v := &viewer{seen: map[windowKey]int{}}
		g.viewers = append(g.viewers, v)
		if _, err := nc.Subscribe(wire.LiveSubjects, v.receive); err != nil {
			g.close()
			return nil, fmt.Errorf("bench: viewer %d subscribing: %w", i, err)
		}
	}
	for i, nc := range g.conns {
		if err := nc.Flush(); err != nil {
			g.close()
			return nil, fmt.Errorf("bench: viewer %d: %w", i, err)
		}
	}
	return g, nil
}

// receive records one swarm; an undecodable one is skipped (the stack's
// own tests check the encoding), and so is the warm-up match.
func (v *viewer) receive(m *nats.Msg) {
	at := time.Now().UnixNano()
	s, err := wire.DecodeSwarm(m.Data)
	if err != nil || s.MatchID == warmupMatch {
		return
	}
	k := windowKey{s.MatchID, s.WindowStart.UnixMilli()}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen[k]++
	v.receipts = append(v.receipts, receipt{key: k, endMs: s.WindowEnd.UnixMilli(), at: at, total: s.Total})
}

// totals returns the events per match of the windows starting at or after
// sinceMs, counting each window once.
func (v *viewer) totals(sinceMs int64) map[string]int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := map[string]int64{}
	got := map[windowKey]bool{}
	for _, r := range v.receipts {
		if r.key.Window >= sinceMs && !got[r.key] {
			got[r.key] = true
			t[r.key.Match] += r.total
		}
	}
	return t
}

// reached reports whether every viewer counted at least the targets.
func (g *viewerGroup) reached(targets map[string]int64, sinceMs int64) bool {
	for _, v := range g.viewers {
		t := v.totals(sinceMs)
		for m, n := range targets {
			if t[m] < n {
				return false
			}
		}
	}
	return true
}

// finish waits until every viewer counted the targets, or f.Timeout passed,
// and reports what the viewers received.
func (g *viewerGroup) finish(ctx context.Context, f finishMsg) (ViewerReport, error) {
	deadline := time.Now().Add(time.Duration(f.TimeoutMs) * time.Millisecond)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !g.reached(f.Targets, f.SinceMs) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ViewerReport{}, ctx.Err()
		case <-tick.C:
		}
	}
	return g.report(f.SinceMs), nil
}

func (g *viewerGroup) close() {
	for _, nc := range g.conns {
		nc.Close()
	}
}
