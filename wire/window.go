package wire

import "time"

// WindowStart returns the start, in Unix milliseconds, of the window of
// length windowMs that contains the instant tMs. Windows are aligned to the
// Unix epoch: window w covers [w·windowMs, (w+1)·windowMs).
func WindowStart(tMs, windowMs int64) int64 {
	w := tMs / windowMs
	if tMs%windowMs < 0 {
		w--
	}
	return w * windowMs
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
