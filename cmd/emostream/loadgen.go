package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/emostream/emostream/loadgen"
)

func init() {
	register(&command{
		name:    "loadgen",
		summary: "simulated viewers POSTing emoji reactions to ingest, with a live report",
		run:     runLoadgen,
	})
}

// How often progress is shown: redrawn in place on a terminal, one line per
// interval otherwise.
const (
	loadgenTTYInterval   = 250 * time.Millisecond
	loadgenLinesInterval = 5 * time.Second
)

const loadgenSynopsis = `Sends emoji events to ingest's POST /v1/emojis like a crowd of viewers:
--users users over --matches matches, emoji types skewed like a real crowd,
--batch events per request over --connections connections, at --rate events/s
(0 = as fast as the target answers), for --duration or --events, whichever
ends first (10s when neither is given, never more than 1h). Progress goes to
stderr, the summary to stdout. Only loopback targets unless --allow-remote.`

// loadgenFlags are the flags of "emostream loadgen".
type loadgenFlags struct {
	cfg  loadgen.Config
	mix  string
	json bool
	auth *clientAuthFlags
}

func addLoadgenFlags(fs *flag.FlagSet) *loadgenFlags {
	f := &loadgenFlags{}
	c := &f.cfg
	fs.StringVar(&c.Target, "target", loadgen.DefaultTarget, "base URL of the ingest API")
	fs.Float64Var(&c.Rate, "rate", 0, "events per second over all connections; 0 means unlimited")
	fs.DurationVar(&c.Duration, "duration", 0, "how long to send; 0 means 10s, or up to 1h when --events is set")
	fs.Int64Var(&c.Events, "events", 0, "how many events to send; 0 means no bound other than --duration")
	fs.IntVar(&c.Users, "users", loadgen.DefaultUsers, "distinct user_id values (u-0, u-1, ...)")
	fs.IntVar(&c.Matches, "matches", loadgen.DefaultMatches, "distinct match_id values (match-0, match-1, ...)")
	fs.IntVar(&c.Batch, "batch", loadgen.DefaultBatch, "events per POST, 1..1000; 1 sends a bare object")
	fs.IntVar(&c.Connections, "connections", loadgen.DefaultConnections, "concurrent HTTP connections")
	fs.StringVar(&f.mix, "emoji-mix", "", "weighted emoji types, e.g. 🔥=40,👏=20,😂=10; empty means the target's\n      GET /v1/emoji-types (else the built-in list), weighted 1/rank like a real crowd")
	fs.BoolVar(&c.EventIDs, "event-ids", false, "attach a unique event_id to every event")
	fs.DurationVar(&c.Timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout")
	fs.Uint64Var(&c.Seed, "seed", 0, "random seed for users, matches and emojis; 0 means random")
	fs.BoolVar(&f.json, "json", false, "print the final summary as JSON")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not on 127.0.0.0/8 or ::1")
	f.auth = addClientAuthFlags(fs)
	return f
}

// config returns the loadgen.Config of the flags, with its tokens, target
// check, emoji mix and progress printer.
func (f *loadgenFlags) config(ctx context.Context, env *environment, log *slog.Logger) (loadgen.Config, error) {
	c := f.cfg
	var err error
	if c.Tokens, err = loadgenTokens(env, f.auth, c.Connections); err != nil {
		return c, err
	}
	if !c.AllowRemote {
		if err := loadgen.CheckTarget(ctx, nil, c.Target); err != nil {
			return c, err
		}
	}
	if c.Mix, err = chooseMix(ctx, log, c.Target, f.mix); err != nil {
		return c, err
	}
	c.Progress, c.ProgressInterval = progressPrinter(env.stderr, isTerminal(env.stderr))
	return c, nil
}

func runLoadgen(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "loadgen", loadgenSynopsis, args, addLoadgenFlags)
	if err != nil {
		return err
	}
	settings := settingFlags{loadgen.ErrConfig, boundFlags(fs, &f.cfg, map[string]string{"Mix": "emoji-mix"})}
	cfg, err := f.config(ctx, env, log.With("component", "loadgen"))
	if err != nil {
		return flagError(err, settings)
	}
	first := &firstError{}
	cfg.OnResult = first.note
	g, err := loadgen.New(cfg)
	if err != nil {
		return flagError(err, settings)
	}
	s, err := g.Run(ctx)
	if err != nil {
		return err
	}
	if isTerminal(env.stderr) {
		fmt.Fprintln(env.stderr)
	}
	if err := printSummary(env.stdout, s, f.json); err != nil {
		return err
	}
	if s.Requests > 0 && s.Errors+s.Timeouts == s.Requests {
		return fmt.Errorf("loadgen: no request was answered; first error: %v", first.get())
	}
	return nil
}

// chooseMix returns the parsed --emoji-mix, or the target's emoji types (the
// built-in list if the target does not say) weighted like a crowd.
func chooseMix(ctx context.Context, log *slog.Logger, target, mix string) (loadgen.Mix, error) {
	if mix != "" {
		return loadgen.ParseMix(mix)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	types, err := loadgen.FetchEmojiTypes(ctx, target)
	if err != nil {
		log.Info("using the built-in emoji types", "reason", err)
		types = loadgen.DefaultEmojiTypes
	}
	return loadgen.ZipfMix(types), nil
}

// progressPrinter returns a progress callback that redraws one line on a
// terminal, or prints a line every few seconds otherwise.
func progressPrinter(w io.Writer, tty bool) (func(loadgen.Progress), time.Duration) {
	if tty {
		return func(p loadgen.Progress) { fmt.Fprintf(w, "\r\033[K%s %s", progressBar(p.Done), p) }, loadgenTTYInterval
	}
	return func(p loadgen.Progress) { fmt.Fprintln(w, p) }, loadgenLinesInterval
}

// progressBar draws done (0…1) as a bar of 20 cells and a percentage.
func progressBar(done float64) string {
	const width = 20
	full := int(done * width)
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + fmt.Sprintf("] %3.0f%%", done*100)
}

func printSummary(w io.Writer, s loadgen.Summary, asJSON bool) error {
	if !asJSON {
		_, err := fmt.Fprint(w, s)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// firstError keeps the first request error, for the message when nothing
// was answered.
type firstError struct {
	once sync.Once
	err  error
}

func (f *firstError) note(r loadgen.Result) {
	if r.Err != nil {
		f.once.Do(func() { f.err = r.Err })
	}
}

func (f *firstError) get() error {
	f.once.Do(func() {})
	return f.err
}

// loadgenTokens are loadgen's bearer tokens: --token for every connection,
// or one signed token per connection (users u-0 … u-N-1), nil for none.
func loadgenTokens(env *environment, f *clientAuthFlags, conns int) ([]string, error) {
	src, err := f.source(env)
	if err != nil || src == nil {
		return nil, err
	}
	if src.fixed != "" {
		return []string{src.fixed}, nil
	}
	if conns <= 0 {
		conns = loadgen.DefaultConnections
	}
	conns = min(conns, 100_000)
	out := make([]string, conns)
	for i := range out {
		if out[i], err = src.tokenFor(fmt.Sprintf("u-%d", i)); err != nil {
			return nil, fmt.Errorf("loadgen: signing a token: %w", err)
		}
	}
	return out, nil
}
