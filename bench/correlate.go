package bench

import (
	"maps"
	"sync"
	"time"
)

// windowKey names one match's window.
type windowKey struct {
	Match  string
	Window int64 // window start, Unix ms
}

// stamp is one request's share of a window: when its 202 arrived and how
// many of its events were of the window's match.
type stamp struct {
	at int64 // Unix ns
	n  int64
}

// Requests records the accepted requests of a run by match and window, to
// match them against the swarms viewers receive. It is safe for concurrent
// use.
type Requests struct {
	mu       sync.Mutex
	stamps   map[windowKey][]stamp
	accepted map[string]int64
}

// NewRequests returns an empty record.
func NewRequests() *Requests {
	return &Requests{stamps: map[windowKey][]stamp{}, accepted: map[string]int64{}}
}

// Add records that n events of match, answered 202 at at, fell in the
// window starting at window (Unix ms).
func (r *Requests) Add(match string, window int64, at time.Time, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := windowKey{match, window}
	r.stamps[k] = append(r.stamps[k], stamp{at.UnixNano(), n})
	r.accepted[match] += n
}

// Accepted returns the accepted events per match.
func (r *Requests) Accepted() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.accepted)
}

// Windows returns the first and last window start (Unix ms) of any
// accepted event, and false when nothing was accepted.
func (r *Requests) Windows() (first, last int64, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.stamps {
		if !ok || k.Window < first {
			first = k.Window
		}
		if !ok || k.Window > last {
			last = k.Window
		}
		ok = true
	}
	return first, last, ok
}

// EventToScreen returns, weighted by events, the time from each request's
// 202 to screen[match, window], when the swarm of that window reached the
// viewers; and how many accepted events fell in a window no viewer got.
func (r *Requests) EventToScreen(screen map[windowKey]time.Time) (d *Dist, missing int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d = &Dist{}
	for k, stamps := range r.stamps {
		at, ok := screen[k]
		for _, s := range stamps {
			if !ok {
				missing += s.n
				continue
			}
			d.Add(time.Duration(at.UnixNano()-s.at), s.n)
		}
	}
	return d, missing
}
