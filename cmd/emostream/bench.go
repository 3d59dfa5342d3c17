package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/emostream/emostream/bench"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/loadgen"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "end-to-end benchmark: load, viewers, latency, correctness, ceilings; writes a report",
		run:     runBench,
	})
	register(&command{
		name:    "bench-viewers",
		summary: "(started by bench) a process of WebSocket viewers that reports what it received",
		hidden:  true,
		run: func(ctx context.Context, env *environment, args []string) error {
			return bench.ServeViewers(ctx, args, env.stdin, env.stdout)
		},
	})
}

const benchSynopsis = `Measures EmoStream end to end on this machine. Starts the whole stack on
free loopback ports, with its embedded broker or on the Kafka of
--kafka-brokers (or uses --against a running ingest with its --ws leaves),
connects --viewers WebSocket viewers (child "bench-viewers" processes when
there are more than 16), and runs three phases of --duration each with the
same load: loadgen against a bare 202 handler (the ceiling) and against a null
pipeline (decode, publish to NATS core), both at an unlimited rate, then
against the pipeline at --rate. It reports throughput, HTTP latency, window
delivery lag, event-to-screen latency, whether the viewers' totals equal the
accepted events, and CPU and memory. It prints the report and writes it, as
report.json, report.md and SVG plots, to --out (by default a new directory
emostream-bench-<date>-<time> here). Ingest's rate limits are off in the
embedded stack.`

// benchFlags are the flags of "emostream bench".
type benchFlags struct {
	cfg                 bench.Config
	ws, out, cpuProfile string
	kafkaBrokers        string
	partitions          int
	json, ceilings      bool
}

func addBenchFlags(fs *flag.FlagSet) *benchFlags {
	f := &benchFlags{}
	c := &f.cfg
	fs.StringVar(&f.ws, "ws", "", "with --against: the leaves' WebSocket URLs, comma-separated")
	fs.StringVar(&c.Against, "against", "", "base URL of a running ingest; empty starts the embedded stack")
	fs.DurationVar(&c.Duration, "duration", bench.DefaultDuration, "length of each phase")
	fs.Float64Var(&c.Rate, "rate", 0, "pipeline phase events/s; 0 means unlimited")
	fs.IntVar(&c.Batch, "batch", bench.DefaultBatch, "events per POST, 1..1000")
	fs.IntVar(&c.Connections, "connections", bench.DefaultConnections, "concurrent HTTP connections")
	fs.IntVar(&c.Users, "users", bench.DefaultUsers, "distinct user_id values")
	fs.IntVar(&c.Matches, "matches", bench.DefaultMatches, "distinct match_id values (match-0 ...)")
	fs.IntVar(&c.Viewers, "viewers", bench.DefaultViewers, "WebSocket viewers, each subscribed to every match")
	fs.IntVar(&c.ViewersPerProcess, "viewers-per-process", bench.DefaultViewersPerProcess, "most viewers per child process")
	fs.DurationVar(&c.Window, "window", 0, "counting window of the embedded stack (or of --against's); 0 means 2s")
	fs.IntVar(&f.partitions, "partitions", 0, "partitions of the embedded stack's topic; 0 means its default")
	fs.StringVar(&f.kafkaBrokers, "kafka-brokers", "", "an external Kafka (plaintext, host:port,...) for the embedded stack instead of its embedded broker; the events topic must exist")
	fs.DurationVar(&c.Ingest.FlushInterval, "flush-interval", 0, "ingest's --flush-interval; 0 means its default")
	addProducerFlags(fs, &c.Ingest)
	fs.BoolVar(&f.ceilings, "ceilings", true, "run the ceiling and null-pipeline phases (false: the pipeline only)")
	deprecateNegation(fs, "skip-ceilings", "ceilings")
	fs.StringVar(&f.out, "out", "", "directory for report.json, report.md and the plots (default emostream-bench-<date>-<time>)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON instead of Markdown")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the pipeline phase to this file")
	return f
}

// config returns the bench.Config of the flags, short of its CPU profile.
func (f *benchFlags) config(env *environment, log *slog.Logger) (bench.Config, error) {
	c := f.cfg
	if err := checkPartitions(f.partitions, 0); err != nil {
		return c, err
	}
	c.Logger, c.Partitions, c.WebSocketURLs, c.DisableCeilings = log, int32(f.partitions), splitList(f.ws), !f.ceilings
	c.KafkaBrokers = splitList(f.kafkaBrokers)
	c.Progress = func(phase string, p loadgen.Progress) { fmt.Fprintf(env.stderr, "%-14s %s\n", phase, p) }
	var err error
	c.ViewerCommand, err = viewerCommand()
	return c, err
}

func runBench(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "bench", benchSynopsis, args, addBenchFlags)
	if err != nil {
		return err
	}
	c, err := f.config(env, log)
	if err != nil {
		return err
	}
	if len(c.KafkaBrokers) == 0 && c.Against == "" {
		log.Debug("processors", "gomaxprocs", raiseProcs(env)) // as "up" with its embedded broker
	}
	if f.cpuProfile != "" {
		file, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer file.Close()
		c.CPUProfile = file
	}
	err = benchAndReport(ctx, env, c, f.out, f.json)
	return flagError(err, settingFlags{bench.ErrConfig, boundFlags(fs, &f.cfg, map[string]string{"Partitions": "partitions",
		"WebSocketURLs": "ws", "DisableCeilings": "ceilings", "KafkaBrokers": "kafka-brokers"})},
		settingFlags{ingest.ErrConfig, boundFlags(fs, &f.cfg.Ingest, nil)})
}

func benchAndReport(ctx context.Context, env *environment, c bench.Config, out string, asJSON bool) error {
	r, err := bench.New(c)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := r.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "bench done in %v\n", time.Since(start).Round(time.Second))
	if out == "" {
		out = "emostream-bench-" + start.Format("20060102-150405")
	}
	if err := rep.WriteDir(out); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "report and plots written to %s/\n", out)
	if asJSON {
		err = rep.WriteJSON(env.stdout)
	} else {
		err = rep.WriteMarkdown(env.stdout)
	}
	if err == nil && !rep.Pipeline.Correctness.OK {
		err = errors.New("bench: the viewers' totals do not equal the accepted events (see the report)")
	}
	return err
}

// viewerCommand re-runs this binary as "emostream bench-viewers".
func viewerCommand() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: finding this binary for the viewer processes: %w", err)
	}
	return []string{exe, "bench-viewers"}, nil
}
