package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// registryFlags are how a command reaches the match registry.
type registryFlags struct {
	nats *natsFlags
	env  *environment
	// admin opens the registry for writing, creating its bucket if needed
	// (registry.Open, user "admin"); else it binds to the existing bucket
	// to read it (registry.Bind, user "ingest"), unless AutoMatches is on.
	admin bool
	// replicas of the bucket, when this command creates or updates it.
	replicas int
}

func addRegistryFlags(fs *flag.FlagSet, env *environment) *registryFlags {
	f := &registryFlags{env: env, nats: addNATSFlags(fs, "nats://"+defaultNATSAddr,
		"NATS hub holding the match registry (user \"admin\" to change it, \"ingest\" to read it)")}
	fs.IntVar(&f.replicas, "replicas", 1, replicasUsage("the match registry bucket "+wire.MatchesBucket+" where this command creates it (user \"admin\", or --auto-matches)"))
	return f
}

// open connects to the hub and opens the registry; close disconnects.
func (f *registryFlags) open(ctx context.Context, cfg registry.Config) (r *registry.Registry, closeFn func(), err error) {
	if f.replicas < 1 || f.replicas > maxReplicas {
		return nil, nil, fmt.Errorf("--replicas %d: want 1 to %d", f.replicas, maxReplicas)
	}
	cfg.Replicas = f.replicas
	nc, err := f.nats.options(f.env).Connect(nats.Name("emostream-registry"), nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond), nats.RetryOnFailedConnect(false))
	if err != nil {
		return nil, nil, fmt.Errorf("match registry: %w", err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if f.admin || cfg.AutoMatches > 0 { // auto matches are created: user "admin"
			r, err = registry.Open(octx, js, cfg)
		} else {
			r, err = registry.Bind(octx, js, cfg)
		}
		cancel()
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return r, nc.Close, nil
}

func runMatch(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.stderr, "Usage: emostream match create|start|end|ls|rm [flags]\n\n"+matchSynopsis)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlags(env, "match "+sub, matchSynopsis)
	rf := addRegistryFlags(fs, env)
	rf.admin = true
	var id, title, home, away, planned string
	var live, asJSON bool
	maxMatches := registry.DefaultMaxMatches
	switch sub {
	case "create":
		addMaxMatches(fs, &maxMatches)
		fs.StringVar(&title, "title", "", "title shown to viewers")
		fs.StringVar(&home, "home", "", "home team")
		fs.StringVar(&away, "away", "", "away team")
		fs.StringVar(&planned, "planned-start", "", "planned start, RFC 3339")
		fs.BoolVar(&live, "live", false, "create it live at once")
		fallthrough
	case "start", "end", "rm":
		fs.StringVar(&id, "id", "", "match id: 1-64 of A-Z a-z 0-9 _ - (required)")
	case "ls":
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	default:
		fmt.Fprintf(env.stderr, "emostream match: unknown subcommand %q: want create, start, end, ls or rm\n", sub)
		return errUsage
	}
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if sub != "ls" && id == "" {
		return fmt.Errorf("match %s: --id is required", sub)
	}
	m := registry.Match{ID: id, Title: title, Home: home, Away: away}
	if planned != "" {
		t, err := time.Parse(time.RFC3339, planned)
		if err != nil {
			return fmt.Errorf("match create: --planned-start: want RFC 3339, e.g. 2026-12-24T18:00:00Z: %w", err)
		}
		m.PlannedStart = &t
	}
	if live {
		m.State = registry.Live
	}
	if maxMatches < 1 {
		return fmt.Errorf("--max-matches %d: want a positive value", maxMatches)
	}
	r, closeReg, err := rf.open(ctx, registry.Config{MaxMatches: maxMatches})
	if err != nil {
		return err
	}
	defer closeReg()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch sub {
	case "create":
		m, err = r.Create(ctx, m)
	case "start":
		m, err = r.Start(ctx, id)
	case "end":
		m, err = r.End(ctx, id)
	case "rm":
		if err = r.Remove(ctx, id); err == nil {
			fmt.Fprintf(env.stdout, "removed %s\n", id)
		}
		return err
	case "ls":
		ms, err := r.List(ctx)
		if err != nil {
			return err
		}
		return printMatches(env, ms, asJSON)
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

// admissionFlags are the registry flags that "emostream ingest" and
// "emostream up" share.
type admissionFlags struct {
	fs         *flag.FlagSet
	max, auto  int
	idle, keep time.Duration
	tokenFile  string
}

func addAdmissionFlags(fs *flag.FlagSet) *admissionFlags {
	f := &admissionFlags{fs: fs}
	addMaxMatches(fs, &f.max)
	fs.IntVar(&f.auto, "auto-matches", 0, "development only: admit (and register, live, marked auto) unknown matches while the registry holds fewer than N auto-admitted ones, a bound of their own (at most --max-matches)")
	fs.DurationVar(&f.idle, "auto-match-idle", registry.DefaultAutoMatchIdle, "an auto-admitted match that took no reactions this long is ended")
	fs.DurationVar(&f.keep, "auto-match-retention", registry.DefaultAutoMatchRetention, "an ended auto-admitted match is removed this long after it ended, freeing its room")
	fs.StringVar(&f.tokenFile, "admin-token-file", "", "file with the admin API's bearer token (else EMOSTREAM_ADMIN_TOKEN; neither: admin API off)")
	return f
}

func addMaxMatches(fs *flag.FlagSet, max *int) {
	fs.IntVar(max, "max-matches", registry.DefaultMaxMatches, "most operator-created matches in the registry, in any state; a create past it is refused (\"registry full\"); start, end and rm always work")
}

// apply checks the flags and sets the registry's bounds and the admin
// token.
func (f *admissionFlags) apply(env *environment, cfg *registry.Config, token *string) error {
	if err := checkPositive(f.fs, "max-matches", "auto-match-idle", "auto-match-retention"); err != nil {
		return err
	}
	if f.auto < 0 || f.auto > f.max {
		return fmt.Errorf("--auto-matches %d: want 0 to --max-matches (%d)", f.auto, f.max)
	}
	cfg.MaxMatches, cfg.AutoMatches, cfg.AutoMatchIdle, cfg.AutoMatchRetention = f.max, f.auto, f.idle, f.keep
	// The admin API's bearer token: never a flag of its own (flags show in ps).
	tok, err := readSecret(env, f.tokenFile, "EMOSTREAM_ADMIN_TOKEN", "--admin-token-file")
	*token = string(tok)
	return err
}
