package bench

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// ViewerReport is what a group of viewers received, in a form that merges
// across groups and processes.
type ViewerReport struct {
	Viewers int `json:"viewers"`
	// MinTotals and MaxTotals are, per match, the smallest and largest of
	// the viewers' totals (each window counted once); both equal the
	// accepted events when every viewer got everything.
	MinTotals map[string]int64 `json:"min_totals"`
	MaxTotals map[string]int64 `json:"max_totals"`
	// Duplicates counts deliveries of a window a viewer already had.
	Duplicates int64 `json:"duplicates"`
	// LagsNs has one sample per delivery: receipt time minus window end.
	LagsNs []int64 `json:"lags_ns"`
	// Windows says when each match's window reached the first and the last
	// viewer, and how many viewers got it.
	Windows []WindowReceipt `json:"windows"`
	// Processes are the CPU and memory of the child processes.
	Processes []ProcStats `json:"processes,omitempty"`
}

// WindowReceipt is one match's window as the viewers received it.
type WindowReceipt struct {
	Match string `json:"match"`
	// WindowStartMs is the window's start, Unix ms ("window_ms" before
	// issue 22, which on the wire elsewhere is a window's length: a viewer
	// process of an older binary still says so, and UnmarshalJSON takes it).
	WindowStartMs int64 `json:"window_start_ms"`
	FirstNs       int64 `json:"first_ns"`
	LastNs        int64 `json:"last_ns"`
	Viewers       int   `json:"viewers"`
	Total         int64 `json:"total"`
}

// UnmarshalJSON decodes a receipt, taking an older binary's "window_ms"
// as WindowStartMs when "window_start_ms" is absent.
func (w *WindowReceipt) UnmarshalJSON(b []byte) error {
	type plain WindowReceipt // without this method
	var v struct {
		plain
		WindowStartMs *int64 `json:"window_start_ms"`
		WindowMs      *int64 `json:"window_ms"` // the old spelling of the start
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*w = WindowReceipt(v.plain)
	switch {
	case v.WindowStartMs != nil:
		w.WindowStartMs = *v.WindowStartMs
	case v.WindowMs != nil:
		w.WindowStartMs = *v.WindowMs
	}
	return nil
}

// report summarises the group's receipts of windows from sinceMs on.
func (g *viewerGroup) report(sinceMs int64) ViewerReport {
	r := ViewerReport{Viewers: len(g.viewers), MinTotals: map[string]int64{}, MaxTotals: map[string]int64{}}
	windows := map[windowKey]*WindowReceipt{}
	var totals []map[string]int64
	for _, v := range g.viewers {
		totals = append(totals, v.totals(sinceMs))
		v.mu.Lock()
		for _, rc := range v.receipts {
			if rc.key.Window >= sinceMs {
				r.LagsNs = append(r.LagsNs, rc.at-rc.endMs*int64(time.Millisecond))
				noteWindow(windows, rc)
			}
		}
		for k, n := range v.seen {
			if k.Window >= sinceMs && n > 1 {
				r.Duplicates += int64(n - 1)
			}
		}
		v.mu.Unlock()
	}
	r.MinTotals, r.MaxTotals = spread(totals)
	r.Windows = sortedWindows(windows)
	return r
}

func noteWindow(ws map[windowKey]*WindowReceipt, rc receipt) {
	w := ws[rc.key]
	if w == nil {
		w = &WindowReceipt{Match: rc.key.Match, WindowStartMs: rc.key.Window, FirstNs: rc.at, LastNs: rc.at, Total: rc.total}
		ws[rc.key] = w
	}
	w.FirstNs, w.LastNs = min(w.FirstNs, rc.at), max(w.LastNs, rc.at)
	w.Viewers++
}

// spread returns per match the least and greatest of the totals; a viewer
// without a match counts zero for it.
func spread(totals []map[string]int64) (lo, hi map[string]int64) {
	lo, hi = map[string]int64{}, map[string]int64{}
	for _, t := range totals {
		for m := range t {
			lo[m], hi[m] = 0, 0
		}
	}
	for m := range lo {
		for i, t := range totals {
			if i == 0 || t[m] < lo[m] {
				lo[m] = t[m]
			}
			hi[m] = max(hi[m], t[m])
		}
	}
	return lo, hi
}

func sortedWindows(ws map[windowKey]*WindowReceipt) []WindowReceipt {
	out := make([]WindowReceipt, 0, len(ws))
	for _, w := range ws {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b WindowReceipt) int {
		return cmp.Or(cmp.Compare(a.WindowStartMs, b.WindowStartMs), cmp.Compare(a.Match, b.Match))
	})
	return out
}

// merge returns the report of r's viewers and o's together.
func (r ViewerReport) merge(o ViewerReport) ViewerReport {
	if r.Viewers == 0 {
		return o
	}
	if o.Viewers == 0 {
		return r
	}
	m := ViewerReport{Viewers: r.Viewers + o.Viewers, Duplicates: r.Duplicates + o.Duplicates,
		MinTotals: map[string]int64{}, MaxTotals: map[string]int64{},
		LagsNs: append(slices.Clone(r.LagsNs), o.LagsNs...), Processes: append(slices.Clone(r.Processes), o.Processes...)}
	for _, match := range slices.Concat(slices.Collect(maps.Keys(r.MaxTotals)), slices.Collect(maps.Keys(o.MaxTotals))) {
		m.MinTotals[match] = min(r.MinTotals[match], o.MinTotals[match])
		m.MaxTotals[match] = max(r.MaxTotals[match], o.MaxTotals[match])
	}
	ws := map[windowKey]*WindowReceipt{}
	for _, w := range slices.Concat(r.Windows, o.Windows) {
		k := windowKey{w.Match, w.WindowStartMs}
		if p := ws[k]; p != nil {
			p.FirstNs, p.LastNs, p.Viewers = min(p.FirstNs, w.FirstNs), max(p.LastNs, w.LastNs), p.Viewers+w.Viewers
			continue
		}
		ws[k] = &w
	}
	m.Windows = sortedWindows(ws)
	return m
}

// screenTimes returns when each window reached its last viewer.
func (r ViewerReport) screenTimes() map[windowKey]time.Time {
	s := map[windowKey]time.Time{}
	for _, w := range r.Windows {
		s[windowKey{w.Match, w.WindowStartMs}] = time.Unix(0, w.LastNs)
	}
	return s
}
