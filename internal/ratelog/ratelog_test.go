package ratelog_test

import (
	"testing"
	"time"

	"github.com/emostream/emostream/internal/ratelog"
)

// The first occurrence is logged, the next ones within the interval are
// counted, and the first after it is logged with their count.
func TestAllow(t *testing.T) {
	var l ratelog.Limiter
	t0 := time.Unix(1_800_000_000, 0)
	steps := []struct {
		at      time.Duration
		ok      bool
		skipped int
	}{
		{0, true, 0}, {time.Second, false, 0}, {9 * time.Second, false, 0},
		{10 * time.Second, true, 2}, {11 * time.Second, false, 0}, {time.Minute, true, 1},
	}
	for _, s := range steps {
		if skipped, ok := l.Allow(t0.Add(s.at), 10*time.Second); ok != s.ok || skipped != s.skipped {
			t.Errorf("at %v: %d, %v; want %d, %v", s.at, skipped, ok, s.skipped, s.ok)
		}
	}
}
