package processor

import "time"

// The restart grace. After a restart of the processor, or of every stage
// at once (kill -9 of `emostream up`), the bridges come back one by one and
// catch up on the windows the outage left, each at its own pace. A window
// that closed by deadline before a slow partition's partial arrived would
// count that partial late, in a later window (its swarm's late_windows and
// the timeline still name the window its events were received in, but the
// live swarms would not). So for RestartGrace after a session starts, a
// window past its deadline still waits for a partition that has not
// reached it and either has not been heard from yet in the session or is
// catching up (heard from within half a window). Partitions that keep up
// are unaffected, and the grace ends the wait either way.

// heardSkew is how long before the session's start a partial may have
// been stored and still show that its bridge is alive: clocks of the hub
// and this processor may differ a little.
const heardSkew = time.Second

// hear records that partition delivered a partial stored at stored,
// received at now.
func (m *merger) hear(partition int32, stored, now time.Time) {
	if !stored.Before(m.started.Add(-heardSkew)) {
		m.heard[partition] = now
	}
}

// waiting reports whether w, past its deadline at now, waits for a
// partition (see above).
func (m *merger) waiting(w *window, now time.Time) bool {
	if m.grace <= 0 || m.partitions <= 0 || !now.Before(m.started.Add(m.grace)) {
		return false
	}
	for p := range int32(m.partitions) {
		if mk, ok := m.mark[p]; ok && mk >= w.start {
			continue
		}
		if h, ok := m.heard[p]; !ok || now.Sub(h) < m.catchUp() {
			return true
		}
	}
	return false
}

// catchUp is how recently a partition behind a window must have been heard
// from to be taken as catching up: half a window (a bridge that keeps up
// delivers one partial per window).
func (m *merger) catchUp() time.Duration { return time.Duration(m.windowMs) * time.Millisecond / 2 }

// recheck is how soon a waiting window looks again.
func (m *merger) recheck() time.Duration { return max(m.catchUp()/4, 10*time.Millisecond) }
