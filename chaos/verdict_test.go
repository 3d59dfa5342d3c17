package chaos

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// tally is one row of docs/reliability.md: events by what the client knew
// and what the swarm stream counted.
type tally struct {
	Scenario string
	Seed     uint64

	Requests, Events                       int64
	Acked, Rejected, Unknown, NotAttempted int64 // events, by the request's final outcome
	Counted                                int64 // events in the swarm stream, of the ledger's matches
	Once, Lost, Double                     int64 // acked events counted once, never, more than once
	UnknownCounted, UnknownNotCounted      int64
	RejectedCounted, Phantom, Mismatch     int64 // bugs: counted though refused, never sent, or partly
	LostBeforeKafka, KafkaCopies           int64 // acked but absent from Kafka; extra copies of an event_id in Kafka
	ViewerMissed, ViewerDup                int   // stored windows a viewer never got, or got twice
	Windows                                int
	Viewer                                 viewerStats
	Windows202                             windowsTally // where acked events were counted, against their 202's window
	Recovery                               []time.Duration
	Notes, Crashes                         []string
}

func (r *request) outcome() outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out
}

// multiple says how many times got holds want: 0, 1, 2…, or -1 when it is
// not a whole multiple (some events of the request counted, others not).
func multiple(got, want map[string]int64) int64 {
	var m int64 = -2
	for e, w := range want {
		g := got[e]
		if g%w != 0 {
			return -1
		}
		if m == -2 {
			m = g / w
		} else if g/w != m {
			return -1
		}
	}
	for e, g := range got {
		if want[e] == 0 && g != 0 {
			return -1
		}
	}
	return m
}

func classify(reqs []*request, st *stored, k *inKafka, viewed map[string]int) *tally {
	tl := &tally{Requests: int64(len(reqs))}
	ours := map[string]bool{}
	for _, r := range reqs {
		ours[r.match] = true
		tl.Events += r.n
		got := r.countedOf(st.counts[r.match])
		for _, n := range got {
			tl.Counted += n
		}
		m := multiple(got, r.want)
		switch out := r.outcome(); out {
		case acked:
			tl.Acked += r.n
			switch {
			case m == 0:
				tl.Lost += r.n
			case m == 1:
				tl.Once += r.n
			case m > 1:
				tl.Double += r.n
			default:
				tl.Mismatch += r.n
			}
			if k.records[recordKey(r.match, r.tail)] == 0 {
				tl.LostBeforeKafka += r.n
			}
		case unknown:
			tl.Unknown += r.n
			switch {
			case m == 0:
				tl.UnknownNotCounted += r.n
			case m == 1:
				tl.UnknownCounted += r.n
			case m > 1:
				tl.Double += r.n
			default:
				tl.Mismatch += r.n
			}
		case rejected:
			tl.Rejected += r.n
			if m != 0 {
				tl.RejectedCounted += r.n
			}
		case notAttempted:
			tl.NotAttempted += r.n
			if m != 0 {
				tl.Phantom += r.n
			}
		}
	}
	for match, c := range st.counts {
		if !ours[match] {
			for _, n := range c {
				tl.Phantom += n
			}
		}
	}
	for _, n := range k.copies {
		if n > 1 {
			tl.KafkaCopies += int64(n - 1)
		}
	}
	for id, n := range st.windows {
		tl.Windows++
		if n > 1 {
			tl.Mismatch++ // a window stored twice: counted twice
		}
		switch v := viewed[id]; {
		case v == 0:
			tl.ViewerMissed++
		case v > 1:
			tl.ViewerDup++
		}
	}
	return tl
}

// row is the tally as a markdown table row, in docs/reliability.md's order.
func (tl *tally) row() string {
	rec := make([]string, 0, len(tl.Recovery))
	for _, d := range tl.Recovery {
		if d < 0 {
			rec = append(rec, "none")
			continue
		}
		rec = append(rec, d.Round(100*time.Millisecond).String())
	}
	v := tl.Viewer
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d/%d | %d | %d/%d (recovered %d, by late join %d, unrecoverable %d, dropped %d) | %s |",
		tl.Scenario, tl.Seed, tl.Requests, tl.Acked, tl.Once+tl.UnknownCounted, tl.Lost, tl.Double,
		tl.Unknown, tl.UnknownCounted, tl.Rejected, tl.RejectedCounted+tl.Phantom, tl.Mismatch,
		tl.KafkaCopies, tl.ViewerMissed, tl.Windows, v.Recovered, v.Latest, v.Unrecoverable, v.Dropped, strings.Join(rec, " "))
}

// report logs the tally, appends its row to $EMOSTREAM_CHAOS_REPORT when
// set, and fails the test on any broken guarantee.
func report(t testing.TB, tl *tally) {
	t.Helper()
	t.Logf("%+v", *tl)
	t.Log(tl.row())
	t.Log(tl.Windows202.row(tl.Scenario, tl.Seed))
	if path := os.Getenv("EMOSTREAM_CHAOS_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintln(f, tl.row())
			fmt.Fprintln(f, tl.Windows202.row(tl.Scenario, tl.Seed))
			for _, n := range slices.Concat(tl.Notes, tl.Crashes) {
				fmt.Fprintf(f, "<!-- %s seed %d: %s -->\n", tl.Scenario, tl.Seed, strings.ReplaceAll(n, "\n", " ⏎ "))
			}
			f.Close()
		}
	}
	check := func(what string, n int64) {
		if n != 0 {
			t.Errorf("%s: %d events", what, n)
		}
	}
	check("acked but never counted (lost)", tl.Lost)
	check("counted more than once", tl.Double)
	check("counted partly, or a window stored twice", tl.Mismatch)
	check("refused with a 4xx but counted", tl.RejectedCounted)
	check("never sent but counted", tl.Phantom)
	if w := tl.Windows202; w.Off != 0 || w.TimelineOff != 0 {
		t.Errorf("%d acked events counted elsewhere than the window their 202 named; %d of %d matches' timelines differ from their swarms: %v",
			w.Off, w.TimelineOff, w.TimelineChecks, w.Notes)
	}
	if tl.ViewerDup != 0 {
		t.Errorf("a viewer received %d windows more than once", tl.ViewerDup)
	}
	if tl.ViewerMissed != 0 {
		t.Errorf("viewers missed %d of %d stored windows (recovery: %+v)", tl.ViewerMissed, tl.Windows, tl.Viewer)
	}
	if tl.Viewer.Disorder != 0 {
		t.Errorf("viewers were shown %d swarms out of window order", tl.Viewer.Disorder)
	}
	for _, c := range tl.Crashes {
		t.Errorf("a stage crashed: %s", c)
	}
}
