package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files WriteDir writes.
const (
	FileJSON       = "report.json"
	FileMarkdown   = "report.md"
	FileThroughput = "throughput.svg"
	FileLatency    = "latency-cdf.svg"
)

// WriteDir writes the report as report.json, report.md and the two plots
// into dir, creating it.
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	files := map[string]func(io.Writer) error{
		FileJSON: r.WriteJSON, FileMarkdown: r.WriteMarkdown,
		FileThroughput: r.WriteThroughputSVG, FileLatency: r.WriteLatencySVG,
	}
	for name, write := range files {
		if err := writeFile(filepath.Join(dir, name), write); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: writing %s: %w", path, err)
	}
	return f.Close()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as Markdown that links the plots.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	s := r.Settings
	fmt.Fprintf(&b, "# EmoStream benchmark, %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%s per phase, %s, batch %d, %d connections, %d users, %d matches, %d viewers (%d child processes), window %d ms; %d CPUs, GOMAXPROCS %d, %s.\n\n",
		secs(s.DurationS), rateText(s.Rate), s.Batch, s.Connections, s.Users, s.Matches, s.Viewers, s.ViewerProcesses,
		s.WindowMs, s.NumCPU, s.GOMAXPROCS, s.GoVersion)
	r.targetsMD(&b)
	r.phasesMD(&b)
	r.pipelineMD(&b)
	r.stagesMD(&b)
	fmt.Fprintf(&b, "\n![accepted events/s over time](%s)\n\n![latency CDFs](%s)\n", FileThroughput, FileLatency)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) targetsMD(b *strings.Builder) {
	b.WriteString("## Targets\n\n| target | want | got | met |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, yesNo(t.Met))
	}
	fmt.Fprintf(b, "\nThe targets are absolute figures set for a quiet 2-core machine; this run had %d CPUs shared with the load generator and %d viewers in this process or its children. A \"no\" can be the machine rather than the code: compare the ratios below, and medians of several runs.\n",
		r.Settings.NumCPU, r.Settings.Viewers)
	if r.Ratios.CeilingEventsPerSec > 0 {
		fmt.Fprintf(b, "\nPipeline throughput is %.0f%% of the bare 202 handler (%.0f events/s) and %.0f%% of the null pipeline (%.0f events/s).\n",
			r.Ratios.ToCeiling*100, r.Ratios.CeilingEventsPerSec, r.Ratios.ToNullPipeline*100, r.Ratios.NullEventsPerSec)
	}
}

func (r *Report) phasesMD(b *strings.Builder) {
	b.WriteString("\n## Phases\n\nHTTP latency is per answered 202, from loadgen's send to its receipt of the answer. CPU is this whole process (loadgen, servers under test, in-process viewers) from /proc/self, in cores busy on average.\n\n")
	b.WriteString("| phase | accepted events/s | requests/s | rejected | errors+timeouts | HTTP p50 | p95 | p99 | max | CPU cores | GC CPU s | RSS MiB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		l, h, pr := p.Load, p.HTTP, p.Process
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %d | %d | %s | %s | %s | %s | %.2f | %.1f | %.0f |\n", p.Name,
			l.AcceptedRate, l.RequestRate, l.Rejected, l.Errors+l.Timeouts, msText(h.P50), msText(h.P95), msText(h.P99),
			msText(h.Max), pr.Cores, pr.GCCPUSeconds, float64(pr.RSSBytes)/(1<<20))
	}
}

func (r *Report) pipelineMD(b *strings.Builder) {
	p := r.Pipeline
	b.WriteString("\n## Pipeline latency\n\n| measure | count | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		s    Stats
	}{{"event-to-screen (202 → last viewer's receipt of the window's swarm), per event", p.EventToScreen},
		{"window delivery lag (window end → viewer receipt), per viewer and window", p.WindowLag}} {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", row.name, row.s.Count, msText(row.s.P50), msText(row.s.P95), msText(row.s.P99), msText(row.s.Max))
	}
	c := p.Correctness
	fmt.Fprintf(b, "\n## Correctness: %s\n\n| match | accepted | viewers' min total | viewers' max total |\n|---|---|---|---|\n", map[bool]string{true: "OK", false: "FAILED"}[c.OK])
	for _, m := range slices.Sorted(maps.Keys(c.Accepted)) {
		fmt.Fprintf(b, "| %s | %d | %d | %d |\n", m, c.Accepted[m], c.ViewerMin[m], c.ViewerMax[m])
	}
	fmt.Fprintf(b, "\nDuplicate window deliveries: %d. Windows some viewer lacked: %d. Accepted events whose window no viewer got: %d.\n",
		c.Duplicates, c.IncompleteWindows, c.Unmatched)
	for _, vp := range p.ViewerProcesses {
		fmt.Fprintf(b, "\nViewer process %d: %.1f CPU s, peak RSS %.0f MiB.", vp.PID, vp.CPUSeconds, float64(vp.PeakRSSBytes)/(1<<20))
	}
	if len(p.ViewerProcesses) > 0 {
		b.WriteString("\n")
	}
}

func (r *Report) stagesMD(b *strings.Builder) {
	if len(r.Pipeline.Stages) == 0 {
		return
	}
	b.WriteString("\n## Stage metrics\n\nThe embedded stack's Prometheus series over the pipeline phase and the wait for its last windows: counters as their increase, histograms as observations with mean and bucket-estimated p50 and p99 (seconds for *_seconds).\n\n")
	b.WriteString("| series | increase / observations | mean | p50 | p99 |\n|---|---|---|---|---|\n")
	for _, m := range r.Pipeline.Stages {
		if m.Count == 0 {
			fmt.Fprintf(b, "| `%s` | %.0f | | | |\n", m.Name, m.Delta)
			continue
		}
		fmt.Fprintf(b, "| `%s` | %d | %.4g | %.4g | %.4g |\n", m.Name, m.Count, m.Mean, m.P50, m.P99)
	}
}

func msText(ms float64) string {
	if ms >= 100 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f ms", ms)
}

func secs(s float64) string { return fmt.Sprintf("%g s", s) }

func rateText(r float64) string {
	if r == 0 {
		return "unlimited rate"
	}
	return fmt.Sprintf("%.0f events/s", r)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}
