package capacity

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Defaults of Load.
const (
	DefaultRegions = 4
	DefaultMatches = 10
	DefaultBatch   = 1
)

// Bounds of Load: beyond them the model is not meant to answer.
const (
	MaxViewers   = 1e10
	MaxReactions = 1e9
	MaxRegions   = 1000
	MaxMatches   = 10_000 // the registry's --max-matches
	MaxBatch     = 1000   // events per request, the API's bound
)

// ErrLoad wraps every problem of a Load: a *setting.Error that names the
// field at fault.
var ErrLoad = errors.New("capacity: bad load")

// Load is what the system carries at peak. Zero fields mean the defaults.
type Load struct {
	// Viewers watching at once, each one match, split evenly over the
	// regions.
	Viewers float64
	// Reactions accepted per second over all matches.
	Reactions float64
	// Regions with their own leaf clusters and edges. Zero means
	// DefaultRegions.
	Regions int
	// Matches live at once. Zero means DefaultMatches.
	Matches int
	// Batch is the mean number of events per ingest request: a browser
	// sends the taps of one moment together, and at 0.02 taps a viewer a
	// second nearly every request is one event. Zero means DefaultBatch.
	Batch float64
	// VideoSpread is how far behind live the viewers' video clocks are
	// spread (reactions with video_ts, issue 24): each Window of it is a
	// program-time window every swarm and partial names in its
	// video_windows and video_counts. Zero: every viewer live, none. At
	// most wire.MaxVideoLag, the furthest behind a video_ts may be.
	VideoSpread time.Duration
}

// videoWindows is how many program-time windows other than its own a
// swarm names under l's VideoSpread.
func (l Load) videoWindows() int {
	return ceilDiv(l.VideoSpread.Seconds(), Window.Seconds())
}

// withDefaults fills the zero fields and checks the load: each field
// within its bounds, at least one viewer a region (a region of no viewers
// needs no edges, and its edges would each hold a fraction of one), and
// no more reactions than the viewers may send at UserRate (within a
// rounding error: StepsTo divides both by the same power of ten). An
// error is a *setting.Error naming the field, wrapped in ErrLoad.
func (l Load) withDefaults() (Load, error) {
	l.Regions = cmp.Or(l.Regions, DefaultRegions)
	l.Matches = cmp.Or(l.Matches, DefaultMatches)
	l.Batch = cmp.Or(l.Batch, DefaultBatch)
	return l, setting.First(ErrLoad,
		setting.Between("Viewers", l.Viewers, 1, MaxViewers),
		setting.Between("Reactions", l.Reactions, 0, MaxReactions),
		setting.Check("Reactions", l.Reactions, l.Reactions <= l.Viewers*UserRate*(1+1e-9),
			fmt.Sprintf("want at most %s a second for %s viewers: %d a viewer (ingest's --user-rate)", group(l.Viewers*UserRate), group(l.Viewers), UserRate)),
		setting.Between("Regions", l.Regions, 1, MaxRegions),
		setting.Check("Regions", l.Regions, float64(l.Regions) <= l.Viewers,
			fmt.Sprintf("want at most one a viewer (%s viewers)", group(l.Viewers))),
		setting.Between("Matches", l.Matches, 1, MaxMatches),
		setting.Between("Batch", l.Batch, 1, MaxBatch),
		setting.Between("VideoSpread", l.VideoSpread, 0, wire.MaxVideoLag),
	)
}

// Times returns the load with viewers and reactions multiplied by k.
func (l Load) Times(k float64) Load {
	l.Viewers, l.Reactions = l.Viewers*k, l.Reactions*k
	return l
}

// ceilDiv is ⌈a / b⌉ as an int, at least 0.
func ceilDiv(a, b float64) int {
	if a <= 0 {
		return 0
	}
	return int(math.Ceil(a/b - 1e-9))
}
