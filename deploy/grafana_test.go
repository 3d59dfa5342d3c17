package deploy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// dashboardPanel is the part of a Grafana panel the tests read.
type dashboardPanel struct {
	Title   string           `json:"title"`
	Type    string           `json:"type"`
	Panels  []dashboardPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// dashboardPanels are the panels of deploy/grafana/emostream.json, those
// of collapsed rows included.
func dashboardPanels(t *testing.T) []dashboardPanel {
	t.Helper()
	b, err := os.ReadFile("grafana/emostream.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/emostream.json: %v", err)
	}
	var all []dashboardPanel
	var add func(ps []dashboardPanel)
	add = func(ps []dashboardPanel) {
		for _, p := range ps {
			all = append(all, p)
			add(p.Panels)
		}
	}
	add(d.Panels)
	return all
}

// TestDashboardViewers: viewers connect to edges in every documented
// deployment (up, systemd, Kubernetes), so the dashboard's panels about
// viewers read the edges' metrics, not a NATS server's connections (on a
// leaf those are its edges, a handful); and it charts the viewers
// connected and why their connections close (slow consumers).
func TestDashboardViewers(t *testing.T) {
	queried := map[string]bool{}
	for _, p := range dashboardPanels(t) {
		var exprs []string
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
		all := strings.Join(exprs, "\n")
		for _, m := range []string{"emostream_edge_connections{", "emostream_edge_connections_closed_total{"} {
			queried[m] = queried[m] || strings.Contains(all, m)
		}
		if p.Type == "row" || !strings.Contains(strings.ToLower(p.Title), "viewer") {
			continue
		}
		if !strings.Contains(all, "emostream_edge_") || strings.Contains(all, "gnatsd_") {
			t.Errorf("panel %q queries %q: a viewers panel reads the edges (emostream_edge_*)", p.Title, exprs)
		}
	}
	for m, ok := range queried {
		if !ok {
			t.Errorf("no panel queries %s…}", m)
		}
	}
}
