package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/emostream/emostream/client"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "timeline", summary: "print a match's reactions over time (the timeline API) as a table, CSV or JSON", run: runTimeline})
}

const timelineSynopsis = `Prints GET /v1/matches/{match}/timeline of an ingest server: one row per
step with reactions (steps without any are left out), the total and the
count of each emoji (the 8 most frequent of the range), a * on the steps
with a crowd moment, then the moments. --csv prints the API's CSV as is:
start,end,total and one column per allowed emoji; --json the API's JSON
answer as is (docs/api.md, "Timeline"), for jq and scripts. --from and --to take
RFC 3339 or Unix milliseconds; the default range is the whole match.
--by arrival counts each reaction in the window whose live swarm carried
it instead of the window its 202 named.`

// Defaults of emostream timeline.
const (
	defaultTimelineStep = "1m"
	defaultTimelineBy   = "named"
	// timelineColumns bounds the emoji columns of the table.
	timelineColumns = 8
)

// timelineFlags are the flags of "emostream timeline".
type timelineFlags struct {
	target, match, step, from, to, by string
	csv, json                         bool
}

func addTimelineFlags(fs *flag.FlagSet) *timelineFlags {
	f := &timelineFlags{}
	fs.StringVar(&f.target, "target", defaultIngestURL, "ingest base URL")
	fs.StringVar(&f.match, "match", defaultDemoMatch, "match_id")
	fs.StringVar(&f.step, "step", defaultTimelineStep, "step: 2s, 10s, 1m or 5m")
	fs.StringVar(&f.from, "from", "", "first instant (RFC 3339 or Unix ms); empty: the match's first record")
	fs.StringVar(&f.to, "to", "", "last instant (RFC 3339 or Unix ms); empty: now")
	fs.BoolVar(&f.csv, "csv", false, "print CSV instead of a table")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON answer instead of a table")
	fs.StringVar(&f.by, "by", defaultTimelineBy, "named (the window each 202 named), arrival (the live swarms') or video (the program time each reaction's video_ts named)")
	return f
}

// config returns the client and the query of the flags.
func (f *timelineFlags) config() (*client.Client, client.TimelineQuery, error) {
	q := client.TimelineQuery{Match: f.match, Step: f.step, From: f.from, To: f.to, By: f.by}
	switch {
	case f.csv && f.json:
		return nil, q, errors.New("timeline: --csv and --json: give one")
	case f.csv:
		q.Format = "csv"
	case f.json:
		q.Format = "json"
	}
	c, err := client.New(client.Config{Target: f.target})
	if err != nil {
		return nil, q, fmt.Errorf("timeline: %w", flagError(err, clientSettings))
	}
	return c, q, nil
}

func runTimeline(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "timeline", timelineSynopsis)
	f := addTimelineFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	c, q, err := f.config()
	if err != nil {
		return err
	}
	if q.Format != "" {
		err = c.WriteTimeline(ctx, q, env.stdout)
	} else {
		var a *wire.TimelineAnswer
		if a, err = c.Timeline(ctx, q); err == nil {
			printTimeline(env.stdout, f.match, a)
		}
	}
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return nil
}

// printTimeline writes a as a table of its most frequent emojis, a * on
// the steps with a crowd moment, then the moments.
func printTimeline(w io.Writer, match string, a *wire.TimelineAnswer) {
	emojis := topEmojis(a.Totals, timelineColumns)
	marked := momentSteps(a)
	fmt.Fprintf(w, "%s: %d reactions in %d steps of %s\n", match, a.Total, len(a.Steps), a.Step)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "START (UTC)\tTOTAL\t")
	for _, e := range emojis {
		fmt.Fprint(tw, e+"\t")
	}
	fmt.Fprintln(tw, "\t")
	for i, s := range a.Steps {
		fmt.Fprintf(tw, "%s\t%d\t", s.Start.UTC().Format("2006-01-02 15:04:05"), s.Total)
		for _, e := range emojis {
			fmt.Fprint(tw, strconv.FormatInt(s.Counts[e], 10)+"\t")
		}
		fmt.Fprintln(tw, marked[i]+"\t")
	}
	tw.Flush()
	for _, m := range a.Moments {
		what := "all emojis"
		if m.Emoji != "" {
			what = m.Emoji
		}
		fmt.Fprintf(w, "moment %s: %d reactions (%s), %.1f× the baseline (rule %s)\n",
			m.WindowStart.UTC().Format("15:04:05"), m.Size, what, m.Ratio, m.Rule)
	}
}

// topEmojis are the n emojis of totals with the largest counts, largest
// first.
func topEmojis(totals map[string]int64, n int) []string {
	emojis := make([]string, 0, len(totals))
	for e := range totals {
		emojis = append(emojis, e)
	}
	sort.Slice(emojis, func(i, j int) bool {
		a, b := totals[emojis[i]], totals[emojis[j]]
		return a > b || a == b && emojis[i] < emojis[j]
	})
	return emojis[:min(len(emojis), n)]
}

// momentSteps marks with a * each step of a that holds the window of a
// crowd moment.
func momentSteps(a *wire.TimelineAnswer) []string {
	moment := map[int64]bool{}
	for _, m := range a.Moments {
		moment[m.WindowStart.Truncate(0).UnixMilli()] = true
	}
	stepMs := map[string]int64{"2s": 2000, "10s": 10_000, "1m": 60_000, "5m": 300_000}[a.Step]
	marks := make([]string, len(a.Steps))
	for i, s := range a.Steps {
		for ms := s.Start.UnixMilli(); ms < s.Start.UnixMilli()+max(stepMs, 1); ms += 2000 {
			if moment[ms] {
				marks[i] = "*"
			}
		}
	}
	return marks
}
