package main

import (
	"context"
	"errors"
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

func runViewersHold(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "viewers hold", viewersSynopsis)
	ws := fs.String("ws", "ws://"+"127.0.0.1:9222", "leaf WebSocket URLs, comma-separated; viewers are spread round-robin")
	count := fs.Int("count", 1000, "viewers to open")
	match := fs.String("match", "bench", "match whose live subject every viewer subscribes to")
	out := fs.String("out", "", "file for receipt lines \"<seq> <delay µs>\" (required)")
	dialers := fs.Int("dialers", 64, "connections opened at once")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	urls := splitList(*ws)
	if len(urls) == 0 || *count < 1 || *out == "" || !wire.ValidMatchID(*match) {
		return errors.New("viewers hold: need --ws, --count ≥ 1, --out and a valid --match")
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	ready := func(n int) { fmt.Fprintf(env.stdout, "ready %d\n", n) }
	if err := bench.HoldViewers(ctx, urls, *count, *dialers, *match, f, ready); err != nil {
		f.Close()
		return fmt.Errorf("viewers hold: %w", err)
	}
	return f.Close()
}

func runViewersPublish(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "viewers publish", viewersSynopsis)
	url := fs.String("nats", "nats://127.0.0.1:4222", "hub client URL (a stage's connection)")
	match := fs.String("match", "bench", "match to publish swarms of")
	n := fs.Int("swarms", 20, "swarms to publish")
	interval := fs.Duration("interval", 2*time.Second, "time between swarms (a window is 2s)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if !wire.ValidMatchID(*match) || *n < 1 || *interval <= 0 {
		return errors.New("viewers publish: need a valid --match, --swarms ≥ 1 and --interval > 0")
	}
	nc, err := nats.Connect(*url, nats.Name("emostream viewers publish"))
	if err != nil {
		return fmt.Errorf("viewers publish: %w", err)
	}
	defer nc.Close()
	if err := bench.PublishSwarms(ctx, nc, *match, *n, *interval, env.stdout); err != nil {
		return fmt.Errorf("viewers publish: %w", err)
	}
	return nil
}

func runViewersReport(env *environment, args []string) error {
	fs := newFlags(env, "viewers report", viewersSynopsis)
	files := fs.String("files", "", "comma-separated --out files of the hold processes")
	expect := fs.Int("expect", 0, "viewers that should receive each swarm (0: don't check)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	bySeq := map[int][]time.Duration{}
	for _, name := range splitList(*files) {
		if err := bench.ReadReceipts(name, bySeq); err != nil {
			return err
		}
	}
	if len(bySeq) == 0 {
		return errors.New("viewers report: no receipts")
	}
	if err := bench.PrintFanoutReport(env.stdout, bySeq, *expect); err != nil {
		return fmt.Errorf("viewers report: %w", err)
	}
	return nil
}
