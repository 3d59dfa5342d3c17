package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/loadgen"
)

// syntheticReport is a finished report with made-up figures.
func syntheticReport(batch int) *Report {
	var e2s, lag, httpD Dist
	for i := 1; i <= 100; i++ {
		e2s.Add(time.Duration(i)*20*time.Millisecond, 3)
		lag.Add(time.Duration(i)*2*time.Millisecond, 1)
		httpD.Add(time.Duration(i)*100*time.Microsecond, 1)
	}
	phase := func(name string, rate float64) PhaseReport {
		return PhaseReport{Name: name, Load: loadgen.Summary{AcceptedRate: rate},
			Timeline: []TimePoint{{1, rate * 0.9}, {2, rate * 1.1}, {3, rate}}, http: &httpD}
	}
	r := &Report{Started: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC), Settings: Settings{Batch: batch, DurationS: 3, Viewers: 2},
		Phases: []PhaseReport{phase(PhaseCeiling, 100_000), phase(PhaseNull, 80_000), phase(PhasePipeline, 60_000)}}
	r.Pipeline = PipelineFigures{EventToScreen: e2s.Stats(), EventToScreenCDF: e2s.CDF(50),
		WindowLag: lag.Stats(), WindowLagCDF: lag.CDF(50), HTTPCDF: httpD.CDF(50),
		Correctness: Correctness{Accepted: map[string]int64{"match-0": 300}, OK: true}}
	r.finish()
	return r
}

func TestRatiosAndTargets(t *testing.T) {
	r := syntheticReport(1)
	if r.Ratios.ToCeiling != 0.6 || r.Ratios.ToNullPipeline != 0.75 {
		t.Errorf("ratios %+v, want 0.6 and 0.75", r.Ratios)
	}
	met := map[string]bool{}
	for _, tg := range r.Targets {
		met[tg.Name] = tg.Met
	}
	want := map[string]bool{"one-event POSTs, events/s end to end": true, "event-to-screen p99": true,
		"window delivery lag p99": true, "viewers' totals equal accepted events": true, "share of the bare-handler ceiling": true}
	for name, w := range want {
		if got, ok := met[name]; !ok || got != w {
			t.Errorf("target %q met = %v (present %v), want %v", name, got, ok, w)
		}
	}
	if b := syntheticReport(100); b.Targets[0].Met || !strings.Contains(b.Targets[0].Name, "batched") {
		t.Errorf("batched target %+v: 60,000 events/s should miss 400,000", b.Targets[0])
	}
}

// WriteDir writes a JSON report that reads back, Markdown with every
// section, and plots that are well-formed SVG with one line per series.
func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	r := syntheticReport(1)
	if err := r.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(readFile(t, dir, FileJSON), &back); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if len(back.Phases) != 3 || back.Pipeline.EventToScreen.P99 != r.Pipeline.EventToScreen.P99 || len(back.Targets) != 5 {
		t.Errorf("report.json read back as %+v", back)
	}
	md := string(readFile(t, dir, FileMarkdown))
	for _, want := range []string{"## Targets", "## Phases", "## Pipeline latency", "## Correctness: OK",
		"| pipeline | 60000 |", "60% of the bare 202 handler", "](throughput.svg)", "](latency-cdf.svg)"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	for file, lines := range map[string]int{FileThroughput: 3, FileLatency: 3} {
		if got := polylines(t, readFile(t, dir, file)); got != lines {
			t.Errorf("%s has %d polylines, want %d", file, got, lines)
		}
	}
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// polylines parses an SVG document strictly and counts its polylines.
func polylines(t *testing.T, svg []byte) int {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	n := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("bad SVG: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			n++
		}
	}
}

func TestNiceCeilAndNum(t *testing.T) {
	for _, tt := range []struct{ v, want float64 }{{0, 1}, {1, 1}, {1.3, 1.5}, {2.2, 2.5}, {3.5, 4}, {7, 8}, {10.05, 12}, {48_000, 50_000}, {0.35, 0.4}} {
		if got := niceCeil(tt.v); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    float64
		want string
	}{{0, "0"}, {0.25, "0.25"}, {1500, "1.5k"}, {200_000, "200k"}, {1_250_000, "1.25M"}, {10, "10"}} {
		if got := num(tt.v); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestProcParsing(t *testing.T) {
	stat := []byte("4242 (bench viewers (x)) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 9 0 100 0 0")
	if got := cpuOfStat(stat); got != 3.25 {
		t.Errorf("cpuOfStat = %v, want 3.25", got)
	}
	status := []byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")
	if rss, hwm := statusKB(status, "VmRSS:"), statusKB(status, "VmHWM:"); rss != 1024 || hwm != 2048 {
		t.Errorf("rss %d hwm %d, want 1024 2048", rss, hwm)
	}
	if s := readProc(0); s.PID != os.Getpid() {
		t.Errorf("readProc(0).PID = %d", s.PID)
	}
}

func TestBucketQuantile(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.4, 0.8}
	cum := []uint64{0, 50, 90, 100}
	for _, tt := range []struct{ q, want float64 }{{0.5, 0.2}, {0.25, 0.15}, {0.9, 0.4}, {0.99, 0.76}, {1, 0.8}} {
		if got := bucketQuantile(tt.q, bounds, cum, 100); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("bucketQuantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	// Every value 1, in the first bucket of a count histogram: p50 is 1.
	if got := bucketQuantile(0.5, []float64{1, 4, 16}, []uint64{10, 10, 10}, 10); got != 1 {
		t.Errorf("all ones: p50 = %v, want 1", got)
	}
}

func TestWithTail(t *testing.T) {
	s := time.Second
	tl := []TimePoint{{1, 1000}, {2, 1000}}
	// A 100 ms tail with 500 more answers (requests in flight) is folded
	// into the last second: 1,500 over 1.1 s, not 5,000/s.
	got := withTail(append([]TimePoint(nil), tl...), 2500, 2100*time.Millisecond, 1000, s, 2000, 2*s)
	if len(got) != 2 || math.Abs(got[1].EventsPerSec-1500/1.1) > 1e-6 || got[1].Seconds != 2.1 {
		t.Errorf("short tail: %+v", got)
	}
	// A tail as long as an interval is a point of its own.
	got = withTail(append([]TimePoint(nil), tl...), 3000, 3*s, 1000, s, 2000, 2*s)
	if len(got) != 3 || got[2].EventsPerSec != 1000 {
		t.Errorf("long tail: %+v", got)
	}
	if got = withTail(tl, 2000, 3*s, 1000, s, 2000, 2*s); len(got) != 2 {
		t.Errorf("no tail: %+v", got)
	}
}
