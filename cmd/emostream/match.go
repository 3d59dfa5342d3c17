package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "match", summary: "manage the match registry: create, start, end, ls, rm", run: runMatch})
}

const matchSynopsis = `Manages the match registry, the key-value bucket ` + wire.MatchesBucket + ` on the
NATS hub. Ingest takes reactions only for live matches: a match is created
(scheduled, or --live), started, and ended; ended matches stay listed until
removed.

  emostream match create --id final-2026 --title "The final" --home A --away B [--planned-start 2026-12-24T18:00:00Z] [--live]
  emostream match start  --id final-2026
  emostream match end    --id final-2026
  emostream match ls     [--json]
  emostream match rm     --id final-2026`

// matchTimeout bounds a mode's work on the registry.
const matchTimeout = 10 * time.Second

// matchFlags are the flags of "emostream match <mode>": each mode adds its
// own.
type matchFlags struct {
	mode                           string
	id, title, home, away, planned string
	live, asJSON                   bool
	maxMatches                     int
	registry                       *registryFlags
}

// addMatchFlags adds the flags of mode; false for an unknown mode.
func addMatchFlags(fs *flag.FlagSet, env *environment, mode string) (*matchFlags, bool) {
	f := &matchFlags{mode: mode, registry: addRegistryFlags(fs, env), maxMatches: registry.DefaultMaxMatches}
	f.registry.admin = true
	switch mode {
	case "create":
		addMaxMatches(fs, &f.maxMatches)
		fs.StringVar(&f.title, "title", "", "title shown to viewers")
		fs.StringVar(&f.home, "home", "", "home team")
		fs.StringVar(&f.away, "away", "", "away team")
		fs.StringVar(&f.planned, "planned-start", "", "planned start, RFC 3339")
		fs.BoolVar(&f.live, "live", false, "create it live at once")
		fallthrough
	case "start", "end", "rm":
		fs.StringVar(&f.id, "id", "", "match id, "+wire.MatchIDRule+" (required)")
	case "ls":
		fs.BoolVar(&f.asJSON, "json", false, "print JSON instead of a table")
	default:
		return nil, false
	}
	return f, true
}

// match checks the flags and returns the match they describe.
func (f *matchFlags) match() (registry.Match, error) {
	if f.mode != "ls" && f.id == "" {
		return registry.Match{}, fmt.Errorf("match %s: --id is required", f.mode)
	}
	m := registry.Match{ID: f.id, Title: f.title, Home: f.home, Away: f.away}
	if f.planned != "" {
		t, err := time.Parse(time.RFC3339, f.planned)
		if err != nil {
			return m, fmt.Errorf("match create: --planned-start: want RFC 3339, e.g. 2026-12-24T18:00:00Z: %w", err)
		}
		m.PlannedStart = &t
	}
	if f.live {
		m.State = registry.Live
	}
	if f.maxMatches < 1 {
		return m, fmt.Errorf("--max-matches %d: want a positive value", f.maxMatches)
	}
	return m, nil
}

func runMatch(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.stderr, "Usage: emostream match create|start|end|ls|rm [flags]\n\n"+matchSynopsis)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	fs := newFlags(env, "match "+args[0], matchSynopsis)
	f, ok := addMatchFlags(fs, env, args[0])
	if !ok {
		fmt.Fprintf(env.stderr, "emostream match: unknown subcommand %q: want create, start, end, ls or rm\n", args[0])
		return errUsage
	}
	if err := parseFlags(fs, env, args[1:]); err != nil {
		return err
	}
	m, err := f.match()
	if err != nil {
		return err
	}
	r, closeReg, err := f.registry.open(ctx, registry.Config{MaxMatches: f.maxMatches})
	if err != nil {
		return err
	}
	defer closeReg()
	ctx, cancel := context.WithTimeout(ctx, matchTimeout)
	defer cancel()
	return f.do(ctx, env, r, m)
}

// do runs the mode on r and prints what it did.
func (f *matchFlags) do(ctx context.Context, env *environment, r *registry.Registry, m registry.Match) error {
	var err error
	switch f.mode {
	case "create":
		m, err = r.Create(ctx, m)
	case "start":
		m, err = r.Start(ctx, f.id)
	case "end":
		m, err = r.End(ctx, f.id)
	case "rm":
		if err = r.Remove(ctx, f.id); err == nil {
			fmt.Fprintf(env.stdout, "removed %s\n", f.id)
		}
		return err
	case "ls":
		ms, err := r.List(ctx)
		if err != nil {
			return err
		}
		return printMatches(env, ms, f.asJSON)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s is %s\n", m.ID, m.State)
	return nil
}

func printMatches(env *environment, ms []registry.Match, asJSON bool) error {
	if asJSON {
		if ms == nil {
			ms = []registry.Match{}
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ms)
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tTITLE\tHOME\tAWAY\tPLANNED START")
	for _, m := range ms {
		ps := ""
		if m.PlannedStart != nil {
			ps = m.PlannedStart.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.State, m.Title, m.Home, m.Away, ps)
	}
	return w.Flush()
}
