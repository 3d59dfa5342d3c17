package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/wire"
	"github.com/nats-io/nats.go"
)

const watchSynopsis = `Watches a match's swarms as a viewer does: connects to a leaf over NATS
WebSocket (or to any NATS URL), prints the latest swarm at once (late join,
marked "latest"), then one line per live swarm: window start, swarm units,
counts, total, latency = now - window end, viewers ("N watching") and crowd
moments when the swarm has them. After a reconnect, or when a live window
comes after a gap, it reads the missed windows from the stream first
(marked "recovered") and prints a line for each stretch of windows it could
not recover. At exit it prints a summary: shown, recovered, unrecoverable,
dropped (another match's swarm, or a window not newer than the last shown).`

func init() {
	register(&command{name: "watch", summary: "print a match's live swarms, as a viewer receives them", run: runWatch})
}

// watchFlags are the flags of "emostream watch".
type watchFlags struct {
	ws, match string
	nats      *natsFlags
}

func addWatchFlags(fs *flag.FlagSet) *watchFlags {
	f := &watchFlags{}
	fs.StringVar(&f.ws, "ws", "ws://"+fanout.DefaultWebSocketListen, "leaf WebSocket URL(s), comma-separated (fail over in order)")
	f.nats = addNATSFlags(fs, "", "NATS URL(s) to use instead of --ws (e.g. the hub, with --nats-user processor)")
	fs.StringVar(&f.match, "match", "", "match id to watch (required)")
	return f
}

// options checks the flags and returns how to reach the swarms: --nats,
// else the leaf of --ws as an anonymous viewer (--nats-ca still verifies a
// wss:// leaf).
func (f *watchFlags) options(env *environment) (natsconn.Options, error) {
	if f.match == "" {
		return natsconn.Options{}, errors.New("watch: --match is required")
	}
	o := f.nats.options(env)
	if o.URL == "" {
		o.URL = f.ws
	}
	return o, nil
}

func runWatch(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "watch", watchSynopsis)
	f := addWatchFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	o, err := f.options(env)
	if err != nil {
		return err
	}
	nc, err := o.Connect(nats.Name("emostream watch"), nats.DontRandomize(), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("watch: %w", flagError(err, settingFlags{fanout.ErrConfig, map[string]string{"Match": "match"}}))
	}
	defer nc.Close()
	fmt.Fprintf(env.stdout, "watching %s on %s\n", f.match, nc.ConnectedUrl())
	w, err := fanout.NewWatcher(nc, fanout.WatchConfig{Match: f.match,
		OnSwarm: func(body []byte, src fanout.Source) { printSwarm(env.stdout, body, src, time.Now()) },
		OnGap:   func(g fanout.Gap) { printGap(env.stdout, g) },
		OnError: func(err error) { fmt.Fprintf(env.stdout, "interrupted %v; reading again\n", err) }})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	err = w.Run(ctx)
	s := w.Stats()
	fmt.Fprintf(env.stdout, "summary: shown %d, recovered %d, unrecoverable %d (in %d gaps), dropped %d\n",
		s.Shown.Load(), s.Recovered.Load(), s.Unrecoverable.Load(), s.Gaps.Load(), s.Dropped.Load())
	return err
}

// printGap prints a stretch of windows that could not be recovered.
func printGap(w io.Writer, g fanout.Gap) {
	fmt.Fprintf(w, "missed  %s–%s up to %d window(s) not recovered: %s\n",
		g.From.Format("15:04:05.000"), g.To.Format("15:04:05.000"), g.Windows, g.Reason)
}

// printSwarm prints one swarm as a line, and a line per crowd moment.
func printSwarm(w io.Writer, body []byte, src fanout.Source, now time.Time) {
	s, err := wire.DecodeSwarm(body)
	if err != nil {
		fmt.Fprintf(w, "undecodable swarm: %v\n", err)
		return
	}
	watching := ""
	if s.Viewers > 0 {
		watching = fmt.Sprintf(" · %d watching", s.Viewers)
	}
	fmt.Fprintf(w, "%-9s %s units %s counts %s total %d latency %s%s\n", src,
		s.WindowStart.Format("15:04:05.000"), emojiCounts(s.Swarm), emojiCounts(s.Counts), s.Total,
		now.Sub(s.WindowEnd).Round(time.Millisecond), watching)
	for _, m := range s.Moments {
		what := m.Emoji
		if what == "" {
			what = "all reactions"
		}
		fmt.Fprintf(w, "moment    %s %s %d (%.1f× the baseline, rule %s)\n",
			m.WindowStart.Format("15:04:05.000"), what, m.Size, m.Ratio, m.Rule)
	}
}

func emojiCounts(m map[string]int64) string {
	var b strings.Builder
	for _, e := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s%d ", e, m[e])
	}
	if b.Len() == 0 {
		return "-"
	}
	return strings.TrimSpace(b.String())
}
