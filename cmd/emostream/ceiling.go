package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/emostream/emostream/loadgen"
)

func init() {
	register(&command{
		name:    "ceiling",
		summary: "bare HTTP server answering 202 to everything: the benchmark ceiling",
		run:     runCeiling,
	})
}

const ceilingSynopsis = `Answers every HTTP request with 202 {"accepted":N} and does nothing else,
so "emostream loadgen --target" at it measures the most any ingest could
reach on this machine. Prints the URL it listens on, then serves until
interrupted.`

// defaultCeilingListen is any free port: the ceiling prints the one it got.
const defaultCeilingListen = "127.0.0.1:0"

// ceilingFlags are the flags of "emostream ceiling".
type ceilingFlags struct{ listen string }

func addCeilingFlags(fs *flag.FlagSet) *ceilingFlags {
	f := &ceilingFlags{}
	fs.StringVar(&f.listen, "listen", defaultCeilingListen, "address to listen on")
	return f
}

func runCeiling(ctx context.Context, env *environment, args []string) error {
	_, f, log, err := parseLogged(env, "ceiling", ceilingSynopsis, args, addCeilingFlags)
	if err != nil {
		return err
	}
	ln, err := listenFlag("listen", f.listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "ceiling listening on http://%s\n", ln.Addr())
	var c loadgen.Ceiling
	served := make(chan error, 1)
	go func() { served <- c.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("ceiling: %w", err)
	case <-ctx.Done():
	}
	if err := c.Shutdown(); err != nil {
		return fmt.Errorf("ceiling: shutting down: %w", err)
	}
	log.Info("ceiling stopped", "component", "ceiling", "requests", c.Requests(), "events", c.Events())
	return <-served
}
