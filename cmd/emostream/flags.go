package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emostream/emostream/internal/streams"
)

// newFlags returns a flag set for a subcommand whose usage names the command
// and its environment fallbacks.
func newFlags(env *environment, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: emostream %s [flags]\n\n%s\n\nFlags (each also read from the environment variable shown):\n", name, synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	return fs
}

// envName is the environment variable that backs a flag.
func envName(flagName string) string {
	return "EMOSTREAM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command line
// from its EMOSTREAM_… environment variable. Positional arguments are refused.
func parseFlags(fs *flag.FlagSet, env *environment, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags only; see --help)", fs.Name(), fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v := env.getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// logFlags adds --log-level and --log-format. Once every other flag is
// defined, the function it returns parses the arguments (parseFlags) and
// builds the logger they describe.
func logFlags(fs *flag.FlagSet, env *environment) func(args []string) (*slog.Logger, error) {
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	return func(args []string) (*slog.Logger, error) {
		if err := parseFlags(fs, env, args); err != nil {
			return nil, err
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(*level)); err != nil {
			return nil, fmt.Errorf("--log-level: %w", err)
		}
		opts := &slog.HandlerOptions{Level: l}
		switch *format {
		case "text":
			return slog.New(slog.NewTextHandler(env.stderr, opts)), nil
		case "json":
			return slog.New(slog.NewJSONHandler(env.stderr, opts)), nil
		}
		return nil, fmt.Errorf("--log-format: want text or json, got %q", *format)
	}
}

// streamFlags are the JetStream stream settings that every stage creating
// the streams (bridge, processor, up) must agree on.
type streamFlags struct {
	dedup, swarmRetention time.Duration
}

func addStreamFlags(fs *flag.FlagSet) *streamFlags {
	f := &streamFlags{}
	fs.DurationVar(&f.dedup, "stream-dedup-window", streams.DefaultDuplicates, "JetStream Nats-Msg-Id dedup window of the streams (recovery never relies on it)")
	fs.DurationVar(&f.swarmRetention, "swarm-retention", streams.DefaultSwarmRetention, "how long a match's swarms stay stored after its last window")
	return f
}

func (f *streamFlags) config() (streams.Config, error) {
	if f.dedup < 0 || f.swarmRetention < 0 || f.swarmRetention > 0 && f.swarmRetention < f.dedup {
		return streams.Config{}, fmt.Errorf("--swarm-retention %v and --stream-dedup-window %v: want positive, retention at least the dedup window", f.swarmRetention, f.dedup)
	}
	return streams.Config{Duplicates: f.dedup, SwarmRetention: f.swarmRetention}, nil
}
