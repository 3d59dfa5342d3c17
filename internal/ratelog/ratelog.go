// Package ratelog keeps a warning that inputs can cause at will (a record
// another producer wrote, a match id a viewer made up) to one line per
// interval, saying how many it left out since the last.
package ratelog

import (
	"sync"
	"time"
)

// Limiter is one kind of warning. The zero value is ready; it is safe for
// concurrent use.
type Limiter struct {
	mu      sync.Mutex
	last    time.Time // when it was last logged
	skipped int       // occurrences not logged since
}

// Allow reports whether the occurrence at now is logged, at most one per
// every, and how many were not logged since the last one that was.
func (l *Limiter) Allow(now time.Time, every time.Duration) (skipped int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < every {
		l.skipped++
		return 0, false
	}
	skipped, l.last, l.skipped = l.skipped, now, 0
	return skipped, true
}
