package loadgen

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Counts are the running totals of a run.
type Counts struct {
	// Requests is the number of requests sent, answered or not.
	Requests int64 `json:"requests"`
	// Events is the number of events in those requests.
	Events int64 `json:"events"`
	// Accepted is the number of events the target accepted (the sum of the
	// "accepted" fields of 2xx replies, each at most its request's events).
	Accepted int64 `json:"accepted"`
	// Rejected is the number of events in requests answered with a status
	// other than 2xx.
	Rejected int64 `json:"rejected"`
	// ByStatus counts requests by HTTP status of their answer.
	ByStatus map[int]int64 `json:"by_status"`
	// Errors counts requests that got no HTTP answer, timeouts excluded.
	Errors int64 `json:"errors"`
	// Timeouts counts requests that got no answer within the timeout.
	Timeouts int64 `json:"timeouts"`
}

// Latency summarises request latencies: from just before a request is
// written to just after its answer is read. Only answered requests count.
// With a Rate, a request that falls behind its due time is sent at once and
// timed from then, not from when it was due, so a stalled server shows as a
// lower rate rather than as longer latencies (coordinated omission).
type Latency struct {
	Count uint64        `json:"count"`
	Min   time.Duration `json:"min_ns"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

func latencyOf(s Snapshot) Latency {
	return Latency{
		Count: s.Count, Min: s.Min, Mean: s.Mean(), Max: s.Max,
		P50: s.Quantile(0.50), P90: s.Quantile(0.90), P99: s.Quantile(0.99), P999: s.Quantile(0.999),
	}
}

// Summary is the outcome of a run.
type Summary struct {
	Target      string `json:"target"`
	Batch       int    `json:"batch"`
	Connections int    `json:"connections"`
	// Rate is the configured rate in events/s; zero means unlimited.
	Rate float64 `json:"rate"`
	Counts
	// Elapsed is the time from the start of the run to the last answer.
	Elapsed time.Duration `json:"elapsed_ns"`
	// RequestRate, EventRate and AcceptedRate are per second of Elapsed.
	RequestRate  float64 `json:"requests_per_s"`
	EventRate    float64 `json:"events_per_s"`
	AcceptedRate float64 `json:"accepted_per_s"`
	Latency      Latency `json:"latency"`
}

// Progress is a report on a run under way.
type Progress struct {
	Elapsed time.Duration `json:"elapsed_ns"`
	// Done is the fraction of the run behind, 0…1: elapsed of the duration
	// or events of the event bound, whichever is further.
	Done float64 `json:"done"`
	Counts
	// EventRate is events/s sent over the last interval.
	EventRate float64 `json:"events_per_s"`
	// P50 and P99 are latency quantiles over the last interval.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
}

// stats are the live counters the workers update.
type stats struct {
	requests, events, accepted, rejected atomic.Int64
	errors, timeouts                     atomic.Int64
	status                               [600]atomic.Int64
	latency                              Histogram
}

func (s *stats) counts() Counts {
	c := Counts{
		Requests: s.requests.Load(), Events: s.events.Load(),
		Accepted: s.accepted.Load(), Rejected: s.rejected.Load(),
		Errors: s.errors.Load(), Timeouts: s.timeouts.Load(),
		ByStatus: map[int]int64{},
	}
	for code := range s.status {
		if n := s.status[code].Load(); n > 0 {
			c.ByStatus[code] = n
		}
	}
	return c
}

// perSecond returns n per second of d, zero for no time.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// String writes the summary as a few lines of text.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "target %s, batch %d, %d connections, %s\n", s.Target, s.Batch, s.Connections, rateText(s.Rate))
	fmt.Fprintf(&b, "elapsed %v: %d requests (%.0f/s), %d events (%.0f/s), %d accepted (%.0f/s), %d rejected\n",
		s.Elapsed.Round(time.Millisecond), s.Requests, s.RequestRate, s.Events, s.EventRate, s.Accepted, s.AcceptedRate, s.Rejected)
	fmt.Fprintf(&b, "status %s, errors %d, timeouts %d\n", statusText(s.ByStatus), s.Errors, s.Timeouts)
	l := s.Latency
	fmt.Fprintf(&b, "latency min %v p50 %v p90 %v p99 %v p99.9 %v max %v (mean %v)\n",
		round(l.Min), round(l.P50), round(l.P90), round(l.P99), round(l.P999), round(l.Max), round(l.Mean))
	return b.String()
}

// String writes the progress as one line; statuses other than 2xx are
// listed after the rejected count, and errors and timeouts when there are any.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs  sent %d  accepted %d  rejected %d", p.Elapsed.Seconds(), p.Events, p.Accepted, p.Rejected)
	if bad := rejectedStatuses(p.ByStatus); len(bad) > 0 {
		fmt.Fprintf(&b, " (%s)", statusText(bad))
	}
	if p.Errors+p.Timeouts > 0 {
		fmt.Fprintf(&b, "  errors %d  timeouts %d", p.Errors, p.Timeouts)
	}
	fmt.Fprintf(&b, "  %.0f ev/s  p50 %v  p99 %v", p.EventRate, round(p.P50), round(p.P99))
	return b.String()
}

func rejectedStatuses(m map[int]int64) map[int]int64 {
	bad := map[int]int64{}
	for code, n := range m {
		if code/100 != 2 {
			bad[code] = n
		}
	}
	return bad
}

func rateText(r float64) string {
	if r == 0 {
		return "unlimited rate"
	}
	return fmt.Sprintf("rate %.0f events/s", r)
}

// statusText writes request counts by status, in status order: "202:10 429:3".
func statusText(m map[int]int64) string {
	if len(m) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m))
	for _, code := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d:%d", code, m[code]))
	}
	return strings.Join(parts, " ")
}

// round shortens a duration for display to about three significant digits.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}
