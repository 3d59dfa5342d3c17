package processor

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Defaults of MomentRule.
const (
	// DefaultMomentFactor: a window is a moment when its total is at least
	// this many times the baseline.
	DefaultMomentFactor = 3.0
	// DefaultMomentFloor: and at least this many events.
	DefaultMomentFloor = 100
	// DefaultMomentBaseline is the trailing stretch whose median window
	// total is the baseline.
	DefaultMomentBaseline = time.Minute
	// DefaultMomentCooldown is the least time between two moments of a
	// match: a surge over several windows is one moment, at its first.
	DefaultMomentCooldown = 10 * time.Second
	// DefaultMomentShare: an emoji is a moment when its share of a window
	// is at least this much (0.3: 30 points) above its recent share.
	DefaultMomentShare = 0.3
)

// MomentRule is the crowd-moment rule (docs/design.md, "Timeline and
// moments"), two rules on each window of a match that has been recorded for
// the whole Baseline and whose last moment is at least Cooldown earlier:
//
//   - "total": the window's total is at least Floor events and at least
//     Factor times the median of the match's window totals over the
//     Baseline before it (a window without events counts as 0);
//   - "share": one emoji has at least Floor events in the window and its
//     share of the window is at least Share above its recent share (an
//     exponential moving average over about the Baseline's windows).
//
// The zero value of each field is its default.
type MomentRule struct {
	// Factor is the least ratio of the window's total to the baseline.
	// Zero means DefaultMomentFactor.
	Factor float64
	// Floor is the least total of a moment. Zero means DefaultMomentFloor.
	Floor int64
	// Baseline is the trailing stretch of the median. Zero means
	// DefaultMomentBaseline.
	Baseline time.Duration
	// Cooldown is the least time between two moments. Zero means
	// DefaultMomentCooldown.
	Cooldown time.Duration
	// Share is the least jump of an emoji's share (0 to 1). Zero means
	// DefaultMomentShare; 1 or more turns the share rule off.
	Share float64
	// Disable turns moment detection off.
	Disable bool
}

// maxBaselineSlots bounds the recent totals kept per match.
const maxBaselineSlots = 1800

func (r MomentRule) withDefaults() MomentRule {
	r.Factor = cmp.Or(r.Factor, DefaultMomentFactor)
	r.Floor = cmp.Or(r.Floor, DefaultMomentFloor)
	r.Baseline = cmp.Or(r.Baseline, DefaultMomentBaseline)
	r.Cooldown = cmp.Or(r.Cooldown, DefaultMomentCooldown)
	r.Share = cmp.Or(r.Share, DefaultMomentShare)
	return r
}

// rules are the rules of r, with its defaults, for windows of length window.
func (r MomentRule) rules(window time.Duration) []setting.Rule {
	return []setting.Rule{
		setting.Check("Factor", r.Factor, r.Factor >= 1 && !math.IsInf(r.Factor, 0), "want at least 1, finite"),
		setting.AtLeast("Floor", r.Floor, 1),
		setting.Check("Baseline", r.Baseline, r.Baseline >= 3*window && r.slots(window) <= maxBaselineSlots,
			fmt.Sprintf("want 3 to %d windows of %v", maxBaselineSlots, window)),
		setting.AtLeast("Cooldown", r.Cooldown, 0),
		setting.Check("Share", r.Share, r.Share >= 0 && !math.IsInf(r.Share, 0), "want at least 0, finite"),
	}
}

// slots is how many windows the baseline spans.
func (r MomentRule) slots(window time.Duration) int {
	return int(r.Baseline / window)
}

// recentTotals is a ring of a match's last window totals, and each
// emoji's recent share of its windows.
type recentTotals struct {
	starts, totals []int64
	next           int
	since          int64 // the earliest window start known; MinInt64: none
	shares         map[string]float64
	alpha          float64 // the moving average's weight of a new window
}

// maxShares bounds the emojis whose share is followed (the allow-list is
// smaller).
const maxShares = 256

func newRecentTotals(n int) *recentTotals {
	return &recentTotals{starts: make([]int64, n), totals: make([]int64, n), since: math.MinInt64,
		shares: map[string]float64{}, alpha: 2 / float64(n+1)}
}

// add records the window starting at start: its total and counts.
func (r *recentTotals) add(start, total int64, counts map[string]int64) {
	if r.since == math.MinInt64 {
		r.since = start
	}
	r.starts[r.next], r.totals[r.next] = start, total
	r.next = (r.next + 1) % len(r.starts)
	if total <= 0 {
		return
	}
	for e, v := range r.shares {
		r.shares[e] = v * (1 - r.alpha)
	}
	for e, n := range counts {
		if _, ok := r.shares[e]; ok || len(r.shares) < maxShares {
			r.shares[e] += r.alpha * float64(n) / float64(total)
		}
	}
}

// median is the median window total of the len(r) windows before start, a
// window without a record counting 0; false if r does not reach back so far.
func (r *recentTotals) median(start, windowMs int64) (float64, bool) {
	n := len(r.starts)
	from := start - int64(n)*windowMs
	if r.since == math.MinInt64 || r.since > from {
		return 0, false
	}
	vals := make([]int64, 0, n)
	for i := range r.starts {
		if s := r.starts[i]; s >= from && s < start {
			vals = append(vals, r.totals[i])
		}
	}
	for len(vals) < n {
		vals = append(vals, 0)
	}
	slices.Sort(vals)
	if n%2 == 1 {
		return float64(vals[n/2]), true
	}
	return float64(vals[n/2-1]+vals[n/2]) / 2, true
}

// detect returns the moments of match's window starting at start with
// counts (total events), given the match's recent totals and last moment.
func (r MomentRule) detect(rt *recentTotals, match string, start int64, counts map[string]int64, total int64,
	window time.Duration, lastMoment int64) []wire.Moment {
	if r.Disable || total < r.Floor || lastMoment != math.MinInt64 && start-lastMoment < r.Cooldown.Milliseconds() {
		return nil
	}
	base, ok := rt.median(start, window.Milliseconds())
	if !ok {
		return nil
	}
	ws := time.UnixMilli(start).UTC()
	moment := func(emoji string, size int64, ratio float64, rule string) wire.Moment {
		return wire.Moment{MatchID: match, WindowStart: ws, WindowEnd: ws.Add(window), Emoji: emoji, Size: size,
			Ratio: math.Round(ratio*100) / 100, Rule: rule}
	}
	var out []wire.Moment
	if ratio := float64(total) / max(base, 1); ratio >= r.Factor {
		out = append(out, moment("", total, ratio, "total"))
	}
	if r.Share >= 1 {
		return out
	}
	for _, e := range sortedKeys(counts) {
		n := counts[e]
		if share := float64(n) / float64(total); n >= r.Floor && share-rt.shares[e] >= r.Share {
			out = append(out, moment(e, n, float64(n)/max(rt.shares[e]*float64(total), 1), "share"))
		}
	}
	return out
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
