package bench

import (
	"fmt"
	"time"
)

// Report is the outcome of a run; report.json is it encoded.
type Report struct {
	Started  time.Time `json:"started"`
	Settings Settings  `json:"settings"`
	// Phases are the ceiling, the null pipeline (unless skipped) and the
	// pipeline, in the order they ran.
	Phases   []PhaseReport   `json:"phases"`
	Pipeline PipelineFigures `json:"pipeline"`
	Ratios   Ratios          `json:"ratios"`
	Targets  []Target        `json:"targets"`
}

// Settings are the run's parameters and the machine's.
type Settings struct {
	Against         string  `json:"against,omitempty"`
	DurationS       float64 `json:"duration_s"`
	Rate            float64 `json:"rate"`
	Batch           int     `json:"batch"`
	Connections     int     `json:"connections"`
	Users           int     `json:"users"`
	Matches         int     `json:"matches"`
	Viewers         int     `json:"viewers"`
	ViewerProcesses int     `json:"viewer_processes"`
	WindowMs        int64   `json:"window_ms"`
	Partitions      int32   `json:"partitions"`
	GOMAXPROCS      int     `json:"gomaxprocs"`
	NumCPU          int     `json:"num_cpu"`
	GoVersion       string  `json:"go_version"`
}

// PipelineFigures are what only the pipeline phase measures.
type PipelineFigures struct {
	// EventToScreen is, per accepted event, the time from its request's 202
	// to the moment the swarm of the window the 202 named reached the last
	// viewer.
	EventToScreen    Stats      `json:"event_to_screen"`
	EventToScreenCDF []CDFPoint `json:"event_to_screen_cdf"`
	// WindowLag is, per viewer and window, receipt time minus window end.
	WindowLag    Stats       `json:"window_delivery_lag"`
	WindowLagCDF []CDFPoint  `json:"window_delivery_lag_cdf"`
	HTTPCDF      []CDFPoint  `json:"http_latency_cdf"`
	Correctness  Correctness `json:"correctness"`
	// ViewerProcesses are the child processes' CPU and memory at the end.
	ViewerProcesses []ProcStats `json:"viewer_processes,omitempty"`
	// Stages are the embedded stack's own metrics over the phase and the
	// wait for its last windows (none with Against).
	Stages []StageMetric `json:"stage_metrics,omitempty"`
}

// Correctness compares what the viewers counted with what was accepted.
type Correctness struct {
	Accepted  map[string]int64 `json:"accepted"`
	ViewerMin map[string]int64 `json:"viewer_min"`
	ViewerMax map[string]int64 `json:"viewer_max"`
	// Duplicates are deliveries of a window a viewer already had.
	Duplicates int64 `json:"duplicates"`
	// IncompleteWindows are loaded matches' windows some viewer lacked.
	IncompleteWindows int `json:"incomplete_windows"`
	// Unmatched are accepted events whose window no viewer received.
	Unmatched int64 `json:"unmatched_events"`
	OK        bool  `json:"ok"`
}

// Ratios state the pipeline's accepted events/s against the ceilings'.
type Ratios struct {
	CeilingEventsPerSec float64 `json:"ceiling_events_per_s"`
	NullEventsPerSec    float64 `json:"null_pipeline_events_per_s"`
	ToCeiling           float64 `json:"to_ceiling"`
	ToNullPipeline      float64 `json:"to_null_pipeline"`
}

// Target is one of the targets and whether the run met it.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// cdfPoints is how many points a CDF in the report has.
const cdfPoints = 200

// pipelineFigures matches the requests against the viewers' receipts.
func pipelineFigures(reqs *Requests, views ViewerReport, ph PhaseReport) PipelineFigures {
	e2s, missing := reqs.EventToScreen(views.screenTimes())
	lag := &Dist{}
	for _, ns := range views.LagsNs {
		lag.Add(time.Duration(ns), 1)
	}
	return PipelineFigures{
		EventToScreen: e2s.Stats(), EventToScreenCDF: e2s.CDF(cdfPoints),
		WindowLag: lag.Stats(), WindowLagCDF: lag.CDF(cdfPoints), HTTPCDF: ph.http.CDF(cdfPoints),
		Correctness:     correctness(reqs.Accepted(), views, missing),
		ViewerProcesses: views.Processes,
	}
}

// correctness holds when every viewer counted exactly the accepted events
// of every match, no window twice, and every loaded window reached all.
func correctness(accepted map[string]int64, v ViewerReport, missing int64) Correctness {
	c := Correctness{Accepted: accepted, ViewerMin: v.MinTotals, ViewerMax: v.MaxTotals,
		Duplicates: v.Duplicates, Unmatched: missing}
	for _, w := range v.Windows {
		if _, loaded := accepted[w.Match]; loaded && w.Viewers < v.Viewers {
			c.IncompleteWindows++
		}
	}
	c.OK = len(accepted) > 0 && c.Duplicates == 0 && c.IncompleteWindows == 0 && missing == 0
	for m, n := range accepted {
		c.OK = c.OK && v.MinTotals[m] == n && v.MaxTotals[m] == n
	}
	for m := range v.MaxTotals {
		_, loaded := accepted[m]
		c.OK = c.OK && loaded
	}
	return c
}

// Phase returns the named phase, or nil.
func (r *Report) Phase(name string) *PhaseReport {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// finish computes the ratios and the target checks.
func (r *Report) finish() {
	pipe := r.Phase(PhasePipeline).Load.AcceptedRate
	if c := r.Phase(PhaseCeiling); c != nil {
		r.Ratios.CeilingEventsPerSec, r.Ratios.ToCeiling = c.Load.AcceptedRate, ratio(pipe, c.Load.AcceptedRate)
	}
	if n := r.Phase(PhaseNull); n != nil {
		r.Ratios.NullEventsPerSec, r.Ratios.ToNullPipeline = n.Load.AcceptedRate, ratio(pipe, n.Load.AcceptedRate)
	}
	r.Targets = targets(r, pipe)
}

// Targets of issue 6, on this machine with loadgen on the same machine.
const (
	targetSingle    = 50_000
	targetBatched   = 400_000
	targetE2SP99    = 2400 // ms
	targetLagP99    = 300  // ms
	targetToCeiling = 0.60
)

func targets(r *Report, pipe float64) []Target {
	name, want := "one-event POSTs, events/s end to end", float64(targetSingle)
	if r.Settings.Batch > 1 {
		name, want = "batched POSTs, events/s end to end", targetBatched
	}
	p := r.Pipeline
	ts := []Target{
		{name, fmt.Sprintf(">= %.0f", want), fmt.Sprintf("%.0f", pipe), pipe >= want},
		{"event-to-screen p99", fmt.Sprintf("<= %d ms", targetE2SP99), fmt.Sprintf("%.0f ms", p.EventToScreen.P99),
			p.EventToScreen.Count > 0 && p.EventToScreen.P99 <= targetE2SP99},
		{"window delivery lag p99", fmt.Sprintf("<= %d ms", targetLagP99), fmt.Sprintf("%.0f ms", p.WindowLag.P99),
			p.WindowLag.Count > 0 && p.WindowLag.P99 <= targetLagP99},
		{"viewers' totals equal accepted events", "exact", fmt.Sprint(p.Correctness.OK), p.Correctness.OK},
	}
	if r.Ratios.CeilingEventsPerSec > 0 {
		ts = append(ts, Target{"share of the bare-handler ceiling", fmt.Sprintf(">= %.0f%%", targetToCeiling*100),
			fmt.Sprintf("%.0f%%", r.Ratios.ToCeiling*100), r.Ratios.ToCeiling >= targetToCeiling})
	}
	return ts
}
