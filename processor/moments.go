package processor

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

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
)

// MomentRule is the crowd-moment rule (docs/design.md, "Crowd moments"): a
// match's window is a moment when its total is at least Floor events and at
// least Factor times the median of the match's window totals over the
// Baseline before it (a window without events counts as 0), the match has
// been recorded for the whole Baseline, and its last moment is at least
// Cooldown earlier. The zero value of each field is its default.
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
	// Off turns moment detection off.
	Off bool
}

// maxBaselineSlots bounds the recent totals kept per match.
const maxBaselineSlots = 1800

func (r MomentRule) withDefaults() MomentRule {
	r.Factor = cmp.Or(r.Factor, DefaultMomentFactor)
	r.Floor = cmp.Or(r.Floor, DefaultMomentFloor)
	r.Baseline = cmp.Or(r.Baseline, DefaultMomentBaseline)
	r.Cooldown = cmp.Or(r.Cooldown, DefaultMomentCooldown)
	return r
}

func (r MomentRule) validate(window time.Duration) error {
	if r.Factor < 1 || math.IsInf(r.Factor, 0) || r.Floor < 1 || r.Cooldown < 0 ||
		r.Baseline < 3*window || r.slots(window) > maxBaselineSlots {
		return fmt.Errorf("%w: moment rule factor %v (>= 1), floor %d (>= 1), baseline %v (3 windows to %d), cooldown %v",
			ErrConfig, r.Factor, r.Floor, r.Baseline, maxBaselineSlots, r.Cooldown)
	}
	return nil
}

// slots is how many windows the baseline spans.
func (r MomentRule) slots(window time.Duration) int {
	return int(r.Baseline / window)
}

// recentTotals is a ring of a match's last window totals.
type recentTotals struct {
	starts, totals []int64
	next           int
	since          int64 // the earliest window start known; MinInt64: none
}

func newRecentTotals(n int) *recentTotals {
	return &recentTotals{starts: make([]int64, n), totals: make([]int64, n), since: math.MinInt64}
}

func (r *recentTotals) add(start, total, windowMs int64) {
	if r.since == math.MinInt64 {
		r.since = start
	}
	r.starts[r.next], r.totals[r.next] = start, total
	r.next = (r.next + 1) % len(r.starts)
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

// detect returns the moment of match's window starting at start with
// total events, if the rule finds one, given the match's recent totals and
// last moment.
func (r MomentRule) detect(rt *recentTotals, match string, start, total int64, window time.Duration, lastMoment int64) (wire.Moment, bool) {
	if r.Off || total < r.Floor || lastMoment != math.MinInt64 && start-lastMoment < r.Cooldown.Milliseconds() {
		return wire.Moment{}, false
	}
	base, ok := rt.median(start, window.Milliseconds())
	if !ok {
		return wire.Moment{}, false
	}
	ratio := float64(total) / max(base, 1)
	if ratio < r.Factor {
		return wire.Moment{}, false
	}
	ws := time.UnixMilli(start).UTC()
	return wire.Moment{MatchID: match, WindowStart: ws, WindowEnd: ws.Add(window), Size: total,
		Ratio: math.Round(ratio*100) / 100, Rule: "total"}, true
}
