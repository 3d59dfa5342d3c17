package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/wire"
)

// TestPrintSwarm: a watch line names how the swarm arrived, the viewers
// and each crowd moment; a gap line says what was not recovered.
func TestPrintSwarm(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sw := wire.Swarm{MatchID: "m", WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Counts: map[string]int64{"🔥": 3000}, Swarm: map[string]int64{"🔥": 3}, Total: 3000, Viewers: 12,
		Moments: []wire.Moment{{MatchID: "m", WindowStart: start, WindowEnd: start.Add(2 * time.Second),
			Emoji: "🔥", Size: 3000, Ratio: 6.5, Rule: "total"}}}
	body, err := sw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printSwarm(&b, body, fanout.SourceRecovered, start.Add(3*time.Second))
	printGap(&b, fanout.Gap{From: start, To: start.Add(6 * time.Second), Windows: 3, Reason: "no longer stored"})
	for _, want := range []string{
		"recovered 10:00:00.000 units 🔥3 counts 🔥3000 total 3000 latency 1s · 12 watching\n",
		"moment    10:00:00.000 🔥 3000 (6.5× the baseline, rule total)\n",
		"missed  10:00:00.000–10:00:06.000 up to 3 window(s) not recovered: no longer stored\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
