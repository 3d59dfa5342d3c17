package bench

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/loadgen"
)

// PhaseReport is one load phase: loadgen against one target.
type PhaseReport struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	// Load is loadgen's summary: counts, rates and its own latency figures.
	Load loadgen.Summary `json:"load"`
	// HTTP is the request latency, 202s only, from the bench's samples.
	HTTP Stats `json:"http_latency"`
	// Timeline is accepted events/s per progress interval.
	Timeline []TimePoint `json:"timeline"`
	// Process is this process's CPU and memory over the phase.
	Process PhaseProcess `json:"process"`

	http *Dist
}

// TimePoint is the accepted rate over the interval ending at Seconds.
type TimePoint struct {
	Seconds      float64 `json:"s"`
	EventsPerSec float64 `json:"events_per_s"`
}

// PhaseProcess is this process's resource use during a phase: everything
// in it (loadgen, the servers under test, in-process viewers), measured
// from /proc/self and the Go runtime.
type PhaseProcess struct {
	CPUSeconds   float64 `json:"cpu_s"`
	Cores        float64 `json:"cores"` // CPUSeconds per second of the phase
	GCCPUSeconds float64 `json:"gc_cpu_s"`
	GCCycles     int64   `json:"gc_cycles"`
	RSSBytes     int64   `json:"rss_bytes"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"` // since the process started
	HeapBytes    int64   `json:"heap_bytes"`
	Goroutines   int64   `json:"goroutines"`
}

// phase is one loadgen run to prepare.
type phase struct {
	name, target string
	rate         float64
	record       *Requests // nil: none
}

// runPhase runs loadgen as cfg and ph say and measures it.
func runPhase(ctx context.Context, cfg Config, ph phase) (PhaseReport, error) {
	rep := PhaseReport{Name: ph.name, Target: ph.target, http: &Dist{}}
	var mu sync.Mutex
	lc := loadgenConfig(cfg, ph)
	lc.OnResult = func(r loadgen.Result) {
		if r.Err == nil && r.Status == fasthttp.StatusAccepted {
			mu.Lock()
			rep.http.Add(r.Latency, 1)
			mu.Unlock()
		}
		if ph.record != nil {
			ph.record.record(r)
		}
	}
	var prev, before int64             // accepted at the last progress report and the one before
	var prevAt, beforeAt time.Duration // and their times
	lc.Progress = func(p loadgen.Progress) {
		rate := ratio(float64(p.Accepted-prev), (p.Elapsed - prevAt).Seconds())
		before, beforeAt, prev, prevAt = prev, prevAt, p.Accepted, p.Elapsed
		rep.Timeline = append(rep.Timeline, TimePoint{Seconds: p.Elapsed.Seconds(), EventsPerSec: rate})
		if cfg.Progress != nil {
			cfg.Progress(ph.name, p)
		}
	}
	g, err := loadgen.New(lc)
	if err != nil {
		return rep, fmt.Errorf("bench: %s: %w", ph.name, err)
	}
	p0, r0, t0 := readProc(0), readRuntime(), time.Now()
	if rep.Load, err = g.Run(ctx); err != nil {
		return rep, fmt.Errorf("bench: %s: %w", ph.name, err)
	}
	rep.Process = phaseProcess(p0, r0, time.Since(t0))
	rep.Timeline = withTail(rep.Timeline, rep.Load.Accepted, rep.Load.Elapsed, before, beforeAt, prev, prevAt)
	mu.Lock()
	rep.HTTP = rep.http.Stats()
	mu.Unlock()
	return rep, nil
}

// withTail adds the answers after the last progress report (at prevAt,
// prev accepted) to the timeline, which ends at end with accepted in all.
// The tail is mostly requests that were in flight when sending stopped: a
// rate over its short stretch alone would be a false spike, so a tail
// shorter than the last interval is folded into the last point, whose rate
// is then taken over both (from beforeAt, before accepted).
func withTail(tl []TimePoint, accepted int64, end time.Duration, before int64, beforeAt time.Duration, prev int64, prevAt time.Duration) []TimePoint {
	if accepted <= prev || end <= prevAt {
		return tl
	}
	if len(tl) > 0 && end-prevAt < prevAt-beforeAt {
		tl[len(tl)-1] = TimePoint{Seconds: end.Seconds(), EventsPerSec: ratio(float64(accepted-before), (end - beforeAt).Seconds())}
		return tl
	}
	return append(tl, TimePoint{Seconds: end.Seconds(), EventsPerSec: ratio(float64(accepted-prev), (end - prevAt).Seconds())})
}

// loadgenConfig is the load of a phase, with a client that never retries
// and reads replies of up to loadgen.MaxReplyBytes.
func loadgenConfig(cfg Config, ph phase) loadgen.Config {
	lc := loadgen.Config{Target: ph.target, Rate: ph.rate, Duration: cfg.Duration, Users: cfg.Users,
		Matches: cfg.Matches, Batch: cfg.Batch, Connections: cfg.Connections}
	u, _ := url.Parse(ph.target)
	lc.Client = &fasthttp.HostClient{Addr: u.Host, MaxConns: cfg.Connections,
		MaxConnWaitTimeout: loadgen.DefaultTimeout, MaxIdemponentCallAttempts: 1, MaxResponseBodySize: loadgen.MaxReplyBytes,
		ReadTimeout: loadgen.DefaultTimeout, WriteTimeout: loadgen.DefaultTimeout,
		NoDefaultUserAgentHeader: true, DisableHeaderNamesNormalizing: true, DisablePathNormalizing: true}
	return lc
}

func phaseProcess(p0 ProcStats, r0 runtimeStats, elapsed time.Duration) PhaseProcess {
	p1, r1 := readProc(0), readRuntime()
	cpu := p1.CPUSeconds - p0.CPUSeconds
	return PhaseProcess{CPUSeconds: cpu, Cores: ratio(cpu, elapsed.Seconds()),
		GCCPUSeconds: r1.GCCPU - r0.GCCPU, GCCycles: r1.GCCycles - r0.GCCycles,
		RSSBytes: p1.RSSBytes, PeakRSSBytes: p1.PeakRSSBytes, HeapBytes: r1.HeapBytes, Goroutines: r1.Goroutines}
}
