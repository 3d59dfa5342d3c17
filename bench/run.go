package bench

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/emostream/emostream/loadgen"
)

// Phase names.
const (
	PhaseCeiling  = "ceiling"
	PhaseNull     = "null-pipeline"
	PhasePipeline = "pipeline"
)

// warmupTimeout bounds the wait for the first swarm before the load.
const warmupTimeout = 60 * time.Second

// Runner runs one benchmark.
type Runner struct {
	cfg Config
}

// New checks cfg and prepares a run.
func New(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg}, nil
}

// Run runs the ceiling phases, then the pipeline phase with its viewers,
// and returns the report. Every phase is bounded by Config.Duration, and
// the wait for the last swarms by a few windows more.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	rep := &Report{Started: time.Now().UTC(), Settings: r.settings()}
	if !r.cfg.DisableCeilings {
		if err := r.runCeilings(ctx, rep); err != nil {
			return nil, err
		}
	}
	if err := r.runPipeline(ctx, rep); err != nil {
		return nil, err
	}
	rep.finish()
	return rep, nil
}

func (r *Runner) settings() Settings {
	c := r.cfg
	return Settings{Against: c.Against, DurationS: c.Duration.Seconds(), Rate: c.Rate, Batch: c.Batch,
		Connections: c.Connections, Users: c.Users, Matches: c.Matches, Viewers: c.Viewers,
		WindowMs: c.Window.Milliseconds(), Partitions: c.Partitions,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}
}

// runCeilings measures loadgen against loadgen.Ceiling and the null
// pipeline, each at an unlimited rate.
func (r *Runner) runCeilings(ctx context.Context, rep *Report) error {
	var c loadgen.Ceiling
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: ceiling: %w", err)
	}
	go c.Serve(ln) //nolint:errcheck // ends with Shutdown
	ph, err := runPhase(ctx, r.cfg, phase{name: PhaseCeiling, target: "http://" + ln.Addr().String()})
	_ = c.Shutdown()
	if err != nil {
		return err
	}
	rep.Phases = append(rep.Phases, ph)
	np, err := startNullPipeline()
	if err != nil {
		return err
	}
	ph, err = runPhase(ctx, r.cfg, phase{name: PhaseNull, target: np.URL()})
	np.close()
	if err != nil {
		return err
	}
	rep.Phases = append(rep.Phases, ph)
	return nil
}

// runPipeline starts the stack and the viewers, warms up, runs the load,
// waits for the last windows and collects what the viewers saw.
func (r *Runner) runPipeline(ctx context.Context, rep *Report) (err error) {
	t, err := startStack(r.cfg)
	if err != nil {
		return err
	}
	defer func() {
		if serr := t.stop(); serr != nil && err == nil {
			err = fmt.Errorf("bench: stack: %w", serr)
		}
	}()
	sets, procs, err := startViewerSets(ctx, r.cfg, t.wsURLs)
	if err != nil {
		return err
	}
	defer closeSets(sets)
	rep.Settings.ViewerProcesses = procs
	if err := warmUp(ctx, t, warmupTimeout); err != nil {
		return err
	}
	reqs, before := NewRequests(), gather(t.metrics)
	ph, err := r.loadPipeline(ctx, t, reqs)
	if err != nil {
		return err
	}
	rep.Phases = append(rep.Phases, ph)
	views, err := finishSets(ctx, sets, r.finishMsg(reqs))
	if err != nil {
		return err
	}
	rep.Pipeline = pipelineFigures(reqs, views, ph)
	rep.Pipeline.Stages = stageMetrics(before, gather(t.metrics))
	return nil
}

// loadPipeline runs the pipeline phase, under the CPU profile if asked.
func (r *Runner) loadPipeline(ctx context.Context, t *target, reqs *Requests) (PhaseReport, error) {
	if r.cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(r.cfg.CPUProfile); err != nil {
			return PhaseReport{}, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return runPhase(ctx, r.cfg, phase{name: PhasePipeline, target: t.httpURL, rate: r.cfg.Rate, record: reqs})
}

// finishMsg asks the viewers to wait for every accepted event, counting
// from the first loaded window, until a few windows after the last one.
func (r *Runner) finishMsg(reqs *Requests) finishMsg {
	window := r.cfg.Window
	first, last, _ := reqs.Windows()
	end := time.UnixMilli(last).Add(window)
	wait := time.Until(end) + 3*window + 10*time.Second
	return finishMsg{Targets: reqs.Accepted(), SinceMs: first, TimeoutMs: max(wait, time.Second).Milliseconds()}
}
