package wire

import (
	"math"
	"time"
)

// The first and last Unix millisecond of years 0000 to 9999: the instants
// a JSON time (a swarm's window_start and window_end) can encode.
const (
	MinTimeMs int64 = -62167219200000 // 0000-01-01T00:00:00Z
	MaxTimeMs int64 = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// WindowStart returns the start, in Unix milliseconds, of the window of
// length windowMs (positive) that contains the instant tMs. Windows are
// aligned to the Unix epoch: window w covers [w·windowMs, (w+1)·windowMs).
// An instant so close to math.MinInt64 that its window would start before
// it gets math.MinInt64 (not aligned): the result is never after tMs.
func WindowStart(tMs, windowMs int64) int64 {
	r := tMs % windowMs
	if r < 0 {
		r += windowMs
		if tMs < math.MinInt64+r {
			return math.MinInt64
		}
	}
	return tMs - r
}

// WindowEnd returns the end of the window of length windowMs (not
// negative) that starts at startMs, the first instant after it:
// startMs+windowMs, or math.MaxInt64 where that would overflow.
func WindowEnd(startMs, windowMs int64) int64 {
	if startMs > math.MaxInt64-windowMs {
		return math.MaxInt64
	}
	return startMs + windowMs
}

// WindowInRange reports whether the window of length windowMs (positive)
// that starts at startMs lies in years 0000 to 9999, its end included
// (MinTimeMs to MaxTimeMs), so that a swarm of it can be encoded.
func WindowInRange(startMs, windowMs int64) bool {
	return windowMs > 0 && startMs >= MinTimeMs && startMs <= MaxTimeMs-windowMs
}

// WindowOf returns the start of the window of length d that contains t.
func WindowOf(t time.Time, d time.Duration) time.Time {
	ms := d.Milliseconds()
	return time.UnixMilli(WindowStart(t.UnixMilli(), ms)).UTC()
}

// NextBoundary returns the first window boundary strictly after t.
func NextBoundary(t time.Time, d time.Duration) time.Time {
	return WindowOf(t, d).Add(d)
}

// ValidWindow reports whether d can be a window length: a whole number of
// milliseconds, at least 100ms, at most one hour.
func ValidWindow(d time.Duration) bool {
	return d >= 100*time.Millisecond && d <= time.Hour && d%time.Millisecond == 0
}

// WindowRule says what ValidWindow takes, in every message that refuses a
// window length: a stage's Config names its Window setting and the length
// before it ("Window 150.5ms: want whole milliseconds from 100ms to 1h"),
// and "emostream" the flag ("--window 150.5ms: …").
const WindowRule = "whole milliseconds from 100ms to 1h"
