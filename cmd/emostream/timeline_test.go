package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// emostream timeline prints a stored match as a table (with its moment),
// as the API's CSV or as its JSON (--json), and says why when the match is
// unknown.
func TestTimelineCommand(t *testing.T) {
	env := registrytest.Start(t, "final")
	nc, js, reg, ctx := env.NC, env.JS, env.Registry, context.Background()
	t0 := wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), 60_000)
	for i := range 10 { // 20 s: two 10 s steps
		b, _ := json.Marshal(wire.TimelineRecord{Start: t0 + int64(i)*2000, Counts: map[string]int64{"🔥": 10, "👏": int64(i)}, Total: 10 + int64(i)})
		if _, err := js.Publish(ctx, wire.TimelineSubject("final", wire.TimelineWindows), b); err != nil {
			t.Fatal(err)
		}
	}
	mo, _ := json.Marshal(wire.Moment{MatchID: "final", WindowStart: time.UnixMilli(t0 + 12_000).UTC(), Size: 14, Ratio: 3.5, Rule: "total"})
	if _, err := js.Publish(ctx, wire.MomentSubject("final"), mo); err != nil {
		t.Fatal(err)
	}
	url := startIngest(t, ingest.Config{KafkaBrokers: []string{testenv.StartKafka(t, 1).Addr()}, Matches: reg,
		Timeline: timeline.NewReader(nc, wire.TimelineStream, 0)})
	out, err := runCLI(t, "timeline", "--target", url, "--match", "final", "--step", "10s")
	first := time.UnixMilli(t0).UTC().Format("2006-01-02 15:04:05")
	if err != nil || !strings.Contains(out, "final: 145 reactions in 2 steps of 10s") ||
		!strings.Contains(out, first) || !strings.Contains(out, "moment ") || strings.Count(out, "*") != 1 {
		t.Errorf("table: %v\n%s", err, out)
	}
	out, err = runCLI(t, "timeline", "--target", url, "--match", "final", "--step", "1m", "--csv",
		"--from", fmt.Sprint(t0), "--to", time.UnixMilli(t0+60_000).UTC().Format(time.RFC3339))
	lines := strings.Split(strings.TrimSpace(out), "\r\n")
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "start,end,total,🔥,") || !strings.Contains(lines[1], ",145,100,") {
		t.Errorf("csv: %v\n%s", err, out)
	}
	out, err = runCLI(t, "timeline", "--target", url, "--match", "final", "--step", "10s", "--json")
	var a wire.TimelineAnswer
	if err != nil || json.Unmarshal([]byte(out), &a) != nil || a.Total != 145 || len(a.Steps) != 2 || len(a.Moments) != 1 {
		t.Errorf("--json: %v, %+v\n%s", err, a, out)
	}
	if _, err := runCLI(t, "timeline", "--target", url, "--json", "--csv"); err == nil || !strings.Contains(err.Error(), "--csv and --json") {
		t.Errorf("--json --csv: %v", err)
	}
	if _, err := runCLI(t, "timeline", "--target", url, "--match", "nope"); err == nil || !strings.Contains(err.Error(), "unknown_match") {
		t.Errorf("unknown match: %v", err)
	}
	if out, err := runCLI(t, "timeline", "--target", url, "--match", "final", "--step", "10s", "--by", "arrival"); err != nil ||
		!strings.Contains(out, "final: 145 reactions in 2 steps of 10s") {
		t.Errorf("--by arrival: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "timeline", "--target", url, "--match", "final", "--by", "program"); err == nil ||
		!strings.Contains(err.Error(), wire.CodeBadTimelineQuery) {
		t.Errorf("--by program: %v", err)
	}
}
