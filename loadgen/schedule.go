package loadgen

import (
	"context"
	"sync/atomic"
	"time"
)

// schedule hands out the run's requests to the workers: how many events,
// numbered from where, and when each is due. It is the one place that knows
// the rate and the bounds.
type schedule struct {
	start, deadline time.Time
	batch           int64
	events          int64   // total to send; 0 means no bound
	nsPerEvent      float64 // 0 means unlimited rate
	next            atomic.Int64
}

func newSchedule(c Config, start time.Time) *schedule {
	s := &schedule{start: start, deadline: start.Add(c.Duration), batch: int64(c.Batch), events: c.Events}
	if c.Rate > 0 { // a gap longer than the run is the run (and never +Inf)
		s.nsPerEvent = min(float64(time.Second)/c.Rate, float64(c.Duration))
	}
	return s
}

// take reserves the next request: n events numbered from first, to be sent
// at due (zero means now). ok is false once the run is over.
func (s *schedule) take(now time.Time) (first int64, n int, due time.Time, ok bool) {
	first = s.next.Add(s.batch) - s.batch
	n = int(s.batch)
	if s.events > 0 {
		if first >= s.events {
			return 0, 0, time.Time{}, false
		}
		n = int(min(s.batch, s.events-first))
	}
	if s.nsPerEvent > 0 {
		// Compared as a float: past the run it may not fit a Duration.
		offset := float64(first) * s.nsPerEvent
		if offset >= float64(s.deadline.Sub(s.start)) {
			return 0, 0, time.Time{}, false
		}
		due = s.start.Add(time.Duration(offset))
		now = due
	}
	if !now.Before(s.deadline) {
		return 0, 0, time.Time{}, false
	}
	return first, n, due, true
}

// waiter sleeps until a due time on one reused timer.
type waiter struct{ timer *time.Timer }

// wait returns once due has passed (at once for a zero or past due), or
// false if ctx ended first.
func (w *waiter) wait(ctx context.Context, due time.Time) bool {
	d := time.Until(due)
	if due.IsZero() || d <= 0 {
		return ctx.Err() == nil
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
		return true
	case <-ctx.Done():
		w.timer.Stop()
		return false
	}
}
