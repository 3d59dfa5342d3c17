package chaos

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// windowsTally is where the acked events were counted, against the window
// their 202 named (docs/api.md: `windows`), in the swarms (their
// late_windows moved back) and in the timeline by named window.
type windowsTally struct {
	InNamed        int64 // acked events counted in the window their 202 named
	InEarlierTry   int64 // of a retried request: in the window of an earlier attempt that was stored
	Off            int64 // elsewhere: a bug
	CountedLate    int64 // events the swarms of the run's matches counted late (named in late_windows)
	TimelineOff    int   // matches whose timeline by named window differs from their swarms
	TimelineChecks int   // matches compared
	Notes          []string
}

// readTimelines reads the timeline of every match of reqs, waiting (up to
// 60s) until each equals its swarms' named counts: the processor stores
// timeline records right after their swarms.
func (c *cluster) readTimelines(ctx context.Context, reqs []*request, st *stored) (map[string]map[int64]map[string]int64, []string) {
	out := map[string]map[int64]map[string]int64{}
	var off []string
	matches := map[string]bool{}
	for _, r := range reqs {
		matches[r.match] = true
	}
	testenv.Until(60*time.Second, func() bool {
		off = off[:0]
		for m := range matches {
			if got, ok := out[m]; ok && maps.EqualFunc(got, st.named[m], maps.Equal) {
				continue
			}
			tl, err := c.readTimeline(ctx, m)
			if err != nil {
				off = append(off, fmt.Sprintf("%s: %v", m, err))
				continue
			}
			out[m] = tl
			if !maps.EqualFunc(tl, st.named[m], maps.Equal) && len(off) < 10 {
				off = append(off, fmt.Sprintf("%s: timeline %v, swarms %v", m, tl, st.named[m]))
			}
		}
		return len(off) == 0
	})
	return out, off
}

// classifyWindows places every acked event: a request's events are counted
// in one window (ingest gives all events of a request one receive time),
// which must be its 202's, or for a retried request that of an attempt
// between its first and the acked one, in the swarms and the timeline.
func classifyWindows(reqs []*request, st *stored, tls map[string]map[int64]map[string]int64, timelineOff []string) windowsTally {
	var wt windowsTally
	for _, n := range st.late {
		wt.CountedLate += n
	}
	wt.TimelineChecks, wt.TimelineOff = len(tls), len(timelineOff)
	wt.Notes = append(wt.Notes, timelineOff...)
	for _, r := range reqs {
		r.mu.Lock()
		out, windows, tries, first := r.out, r.windows, len(r.attempts), r.firstTry
		r.mu.Unlock()
		if out != acked || len(windows) != 1 {
			continue
		}
		inSwarms := inWindows(st.named[r.match], r)
		inTimeline := inWindows(tls[r.match], r)
		named := windows[0]
		switch w, ok := inSwarms[named]; {
		case ok && len(inSwarms) == 1 && maps.Equal(w, r.want) && maps.Equal(inTimeline[named], r.want) && len(inTimeline) == 1:
			wt.InNamed += r.n
		case tries > 1 && len(inSwarms) == 1 && fmt.Sprint(inSwarms) == fmt.Sprint(inTimeline) &&
			earlierTry(inSwarms, wire.WindowStart(first.UnixMilli(), 2000), named, r.want):
			wt.InEarlierTry += r.n
		default:
			wt.Off += r.n
			if len(wt.Notes) < 20 {
				wt.Notes = append(wt.Notes, fmt.Sprintf("%s (%d attempts): 202 named %d; swarms %v, timeline %v",
					r.match, tries, named, inSwarms, inTimeline))
			}
		}
	}
	return wt
}

// inWindows is the part of a match's counts by window that r's events
// make: its tail emoji, or every other.
func inWindows(byWindow map[int64]map[string]int64, r *request) map[int64]map[string]int64 {
	out := map[int64]map[string]int64{}
	for w, c := range byWindow {
		if got := r.countedOf(c); len(got) > 0 {
			out[w] = got
		}
	}
	return out
}

// earlierTry reports whether the one window of got lies between lo and hi
// and holds want.
func earlierTry(got map[int64]map[string]int64, lo, hi int64, want map[string]int64) bool {
	for w, c := range got {
		return w >= lo && w <= hi && maps.Equal(c, want)
	}
	return false
}

// row is the tally as a row of docs/reliability.md's table of windows.
func (wt windowsTally) row(scenario string, seed uint64) string {
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d/%d |", scenario, seed, wt.InNamed, wt.InEarlierTry, wt.Off,
		wt.CountedLate, wt.TimelineOff, wt.TimelineChecks)
}
