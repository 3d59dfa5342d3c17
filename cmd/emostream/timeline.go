package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "timeline", summary: "print a match's reactions over time (the timeline API) as a table or CSV", run: runTimeline})
}

const timelineSynopsis = `Prints GET /v1/matches/{match}/timeline of an ingest server: one row per
step with reactions (steps without any are left out), the total and the
count of each emoji (the 8 most frequent of the range), a * on the steps
with a crowd moment, then the moments. --csv prints the API's CSV as is:
start,end,total and one column per allowed emoji. --from and --to take
RFC 3339 or Unix milliseconds; the default range is the whole match.
--by arrival counts each reaction in the window whose live swarm carried
it instead of the window its 202 named.`

// timelineColumns bounds the emoji columns of the table.
const timelineColumns = 8

type timelineReply struct {
	Step  string `json:"step"`
	Steps []struct {
		Start  time.Time        `json:"start"`
		Counts map[string]int64 `json:"counts"`
		Total  int64            `json:"total"`
	} `json:"steps"`
	Totals  map[string]int64 `json:"totals"`
	Total   int64            `json:"total"`
	Moments []wire.Moment    `json:"moments"`
}

func runTimeline(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "timeline", timelineSynopsis)
	target := fs.String("target", "http://127.0.0.1:8080", "ingest base URL")
	match := fs.String("match", "final-2026", "match_id")
	step := fs.String("step", "1m", "step: 2s, 10s, 1m or 5m")
	from := fs.String("from", "", "first instant (RFC 3339 or Unix ms); empty: the match's first record")
	to := fs.String("to", "", "last instant (RFC 3339 or Unix ms); empty: now")
	csv := fs.Bool("csv", false, "print CSV instead of a table")
	by := fs.String("by", "named", "named (the window each 202 named) or arrival (the live swarms')")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	q := url.Values{"step": {*step}, "by": {*by}}
	for k, v := range map[string]string{"from": *from, "to": *to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *csv {
		q.Set("format", "csv")
	}
	u := strings.TrimSuffix(*target, "/") + "/v1/matches/" + url.PathEscape(*match) + "/timeline?" + q.Encode()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
		return fmt.Errorf("timeline: %s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	if *csv {
		_, err = io.Copy(env.stdout, res.Body)
		return err
	}
	var r timelineReply
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return fmt.Errorf("timeline: decoding the answer: %w", err)
	}
	printTimeline(env.stdout, *match, &r)
	return nil
}

// printTimeline writes r as a table.
func printTimeline(w io.Writer, match string, r *timelineReply) {
	emojis := make([]string, 0, len(r.Totals))
	for e := range r.Totals {
		emojis = append(emojis, e)
	}
	sort.Slice(emojis, func(i, j int) bool {
		a, b := r.Totals[emojis[i]], r.Totals[emojis[j]]
		return a > b || a == b && emojis[i] < emojis[j]
	})
	emojis = emojis[:min(len(emojis), timelineColumns)]
	moment := map[int64]bool{}
	for _, m := range r.Moments {
		moment[m.WindowStart.Truncate(0).UnixMilli()] = true
	}
	fmt.Fprintf(w, "%s: %d reactions in %d steps of %s\n", match, r.Total, len(r.Steps), r.Step)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "START (UTC)\tTOTAL\t")
	for _, e := range emojis {
		fmt.Fprint(tw, e+"\t")
	}
	fmt.Fprintln(tw, "\t")
	stepMs := map[string]int64{"2s": 2000, "10s": 10_000, "1m": 60_000, "5m": 300_000}[r.Step]
	for _, s := range r.Steps {
		mark := ""
		for ms := s.Start.UnixMilli(); ms < s.Start.UnixMilli()+max(stepMs, 1); ms += 2000 {
			if moment[ms] {
				mark = "*"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t", s.Start.UTC().Format("2006-01-02 15:04:05"), s.Total)
		for _, e := range emojis {
			fmt.Fprint(tw, strconv.FormatInt(s.Counts[e], 10)+"\t")
		}
		fmt.Fprintln(tw, mark+"\t")
	}
	tw.Flush()
	for _, m := range r.Moments {
		what := "all emojis"
		if m.Emoji != "" {
			what = m.Emoji
		}
		fmt.Fprintf(w, "moment %s: %d reactions (%s), %.1f× the baseline (rule %s)\n",
			m.WindowStart.UTC().Format("15:04:05"), m.Size, what, m.Ratio, m.Rule)
	}
}

// momentFlags are the processor's timeline and crowd-moment flags (the
// processor and up commands).
type momentFlags struct {
	factor, share      float64
	floor              int64
	baseline, cooldown time.Duration
	noMoments, noTL    bool
}

func addMomentFlags(fs *flag.FlagSet) *momentFlags {
	f := &momentFlags{}
	fs.Float64Var(&f.factor, "moment-factor", processor.DefaultMomentFactor, "a crowd moment's window total is at least this many times the baseline (the median window total of --moment-baseline before it)")
	fs.Int64Var(&f.floor, "moment-floor", processor.DefaultMomentFloor, "a crowd moment's window has at least this many reactions")
	fs.DurationVar(&f.baseline, "moment-baseline", processor.DefaultMomentBaseline, "trailing stretch whose median window total is the baseline")
	fs.Float64Var(&f.share, "moment-share", processor.DefaultMomentShare, "a crowd moment of one emoji: its share of a window at least this much (0.3: 30 points) above its recent share, with at least --moment-floor reactions; 1 turns this rule off")
	fs.DurationVar(&f.cooldown, "moment-cooldown", processor.DefaultMomentCooldown, "least time between two moments of a match")
	fs.BoolVar(&f.noMoments, "no-moments", false, "detect no crowd moments")
	fs.BoolVar(&f.noTL, "no-timeline", false, "write no timeline records, rollups or moments (swarms only)")
	return f
}

// apply sets the flags on cfg.
func (f *momentFlags) apply(fs *flag.FlagSet, cfg *processor.Config) error {
	if err := checkPositive(fs, "moment-factor", "moment-floor", "moment-baseline"); err != nil {
		return err
	}
	if f.cooldown < 0 {
		return fmt.Errorf("--moment-cooldown %v: want 0 or more", f.cooldown)
	}
	if err := checkPositive(fs, "moment-share"); err != nil {
		return err
	}
	cfg.Moments = processor.MomentRule{Factor: f.factor, Floor: f.floor, Baseline: f.baseline,
		Cooldown: max(f.cooldown, time.Nanosecond), Share: f.share, Off: f.noMoments}
	cfg.DisableTimeline = f.noTL
	return nil
}
