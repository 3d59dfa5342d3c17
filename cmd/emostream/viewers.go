package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/bench"
	"github.com/emostream/emostream/wire"
)

const viewersSynopsis = `Benchmark load for the fan-out tier (scripts/viewers-bench.sh drives it).
Three modes, each with its own flags (emostream viewers <mode> --help):

  hold     opens --count raw WebSocket NATS viewers spread round-robin over the
           leaf URLs of --ws (a minimal client: CONNECT, SUB, PONG), prints
           "ready N" once all are subscribed, then appends "<seq> <delay µs>" to
           --out for every benchmark swarm a viewer receives, until interrupted.
           The delay is from the publish time carried in the swarm.
  publish  publishes --swarms benchmark swarms of --match, one per --interval,
           into EMOSTREAM_SWARMS at the hub (which republishes them to
           emostream.live.<match>), and prints the hub's own republish delay.
  report   reads the --out files of every hold process and prints, per swarm,
           the receipt count and the p50, p99 and last-viewer delay, then their
           medians over all swarms.`

func init() {
	register(&command{name: "viewers", summary: "benchmark load: hold WebSocket viewers, publish swarms, report delays", run: runViewers})
}

func runViewers(ctx context.Context, env *environment, args []string) error {
	mode := ""
	if len(args) > 0 {
		mode, args = args[0], args[1:]
	}
	switch mode {
	case "hold":
		return runViewersHold(ctx, env, args)
	case "publish":
		return runViewersPublish(ctx, env, args)
	case "report":
		return runViewersReport(env, args)
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(env.stdout, "Usage: emostream viewers hold|publish|report [flags]\n\n%s\n", viewersSynopsis)
		return nil
	}
	fmt.Fprintf(env.stderr, "Usage: emostream viewers hold|publish|report [flags]\n\n%s\n", viewersSynopsis)
	return errUsage
}

// Defaults of emostream viewers: the WebSocket of up's first edge, and a
// benchmark match of its own.
const (
	defaultViewersWS      = "ws://" + defaultEdgeListen
	defaultViewersMatch   = "bench"
	defaultViewersCount   = 1000
	defaultViewersDialers = 64
	defaultViewersSwarms  = 20
)

// viewersFlags are the flags of "emostream viewers <mode>": each mode adds
// its own.
type viewersFlags struct {
	ws, match, out, nats, files string
	count, dialers, swarms      int
	expect                      int
	interval                    time.Duration
}

func addViewersHoldFlags(fs *flag.FlagSet) *viewersFlags {
	f := &viewersFlags{}
	fs.StringVar(&f.ws, "ws", defaultViewersWS, "leaf WebSocket URLs, comma-separated; viewers are spread round-robin")
	fs.IntVar(&f.count, "count", defaultViewersCount, "viewers to open")
	fs.StringVar(&f.match, "match", defaultViewersMatch, "match whose live subject every viewer subscribes to")
	fs.StringVar(&f.out, "out", "", "file for receipt lines \"<seq> <delay µs>\" (required)")
	fs.IntVar(&f.dialers, "dialers", defaultViewersDialers, "connections opened at once")
	return f
}

func runViewersHold(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "viewers hold", viewersSynopsis)
	f := addViewersHoldFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if err := f.checkHold(); err != nil {
		return fmt.Errorf("viewers hold: %w", err)
	}
	out, err := os.Create(f.out)
	if err != nil {
		return err
	}
	ready := func(n int) { fmt.Fprintf(env.stdout, "ready %d\n", n) }
	if err := bench.HoldViewers(ctx, splitList(f.ws), f.count, f.dialers, f.match, out, ready); err != nil {
		out.Close()
		return fmt.Errorf("viewers hold: %w", err)
	}
	return out.Close()
}

// checkHold checks the flags of "viewers hold".
func (f *viewersFlags) checkHold() error {
	switch {
	case len(splitList(f.ws)) == 0:
		return errors.New("--ws: want at least one URL")
	case f.count < 1:
		return fmt.Errorf("--count %d: want at least 1", f.count)
	case f.out == "":
		return errors.New("--out is required")
	}
	return f.checkMatch()
}

// checkMatch checks --match.
func (f *viewersFlags) checkMatch() error {
	if err := wire.CheckMatchID(f.match); err != nil {
		return fmt.Errorf("--match %w", err)
	}
	return nil
}

func addViewersPublishFlags(fs *flag.FlagSet) *viewersFlags {
	f := &viewersFlags{}
	fs.StringVar(&f.nats, "nats", "nats://"+defaultNATSAddr, "hub client URL (a stage's connection)")
	fs.StringVar(&f.match, "match", defaultViewersMatch, "match to publish swarms of")
	fs.IntVar(&f.swarms, "swarms", defaultViewersSwarms, "swarms to publish")
	fs.DurationVar(&f.interval, "interval", wire.DefaultWindow, "time between swarms (a window is 2s)")
	return f
}

func runViewersPublish(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "viewers publish", viewersSynopsis)
	f := addViewersPublishFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if err := f.checkMatch(); err != nil {
		return fmt.Errorf("viewers publish: %w", err)
	}
	if err := checkPositive(fs, "swarms", "interval"); err != nil {
		return fmt.Errorf("viewers publish: %w", err)
	}
	nc, err := nats.Connect(f.nats, nats.Name("emostream viewers publish"))
	if err != nil {
		return fmt.Errorf("viewers publish: %w", err)
	}
	defer nc.Close()
	if err := bench.PublishSwarms(ctx, nc, f.match, f.swarms, f.interval, env.stdout); err != nil {
		return fmt.Errorf("viewers publish: %w", err)
	}
	return nil
}

func addViewersReportFlags(fs *flag.FlagSet) *viewersFlags {
	f := &viewersFlags{}
	fs.StringVar(&f.files, "files", "", "comma-separated --out files of the hold processes")
	fs.IntVar(&f.expect, "expect", 0, "viewers that should receive each swarm (0: don't check)")
	return f
}

func runViewersReport(env *environment, args []string) error {
	fs := newFlags(env, "viewers report", viewersSynopsis)
	f := addViewersReportFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	bySeq := map[int][]time.Duration{}
	for _, name := range splitList(f.files) {
		if err := bench.ReadReceipts(name, bySeq); err != nil {
			return err
		}
	}
	if len(bySeq) == 0 {
		return errors.New("viewers report: no receipts")
	}
	if err := bench.PrintFanoutReport(env.stdout, bySeq, f.expect); err != nil {
		return fmt.Errorf("viewers report: %w", err)
	}
	return nil
}
