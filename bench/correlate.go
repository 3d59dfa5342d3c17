package bench

import (
	"bytes"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/loadgen"
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
	names    map[uint64]string // match-<n> by n, made once
}

// NewRequests returns an empty record.
func NewRequests() *Requests {
	return &Requests{stamps: map[windowKey][]stamp{}, accepted: map[string]int64{}, names: map[uint64]string{}}
}

// record is the pipeline phase's loadgen.Config.OnResult: it adds each
// 202 with the window its reply names. The matches come from loadgen,
// which chose them, so the bench does not read them back from the body
// (parsing every body here cost ~7% of the process's CPU in the pipeline
// phase with 100-event arrays, work the other phases did not do).
func (r *Requests) record(res loadgen.Result) {
	if res.Err != nil || res.Status != fasthttp.StatusAccepted {
		return
	}
	// All events of a request share its receive time and so one window; if
	// a reply ever names several, the last (the later swarm) is charged.
	w, ok := lastReplyWindow(res.Body)
	if !ok {
		return
	}
	at := res.Sent.Add(res.Latency)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range res.Matches {
		name, ok := r.names[m.Match]
		if !ok {
			name = loadgen.MatchPrefix + strconv.FormatUint(m.Match, 10)
			r.names[m.Match] = name
		}
		r.add(name, w, at, int64(m.Events))
	}
}

var windowsKey = []byte(`"windows":[`)

// lastReplyWindow reads the last window start of a 202 reply
// {"accepted":N,"windows":[w,...]}.
func lastReplyWindow(body []byte) (int64, bool) {
	i := bytes.Index(body, windowsKey)
	if i < 0 {
		return 0, false
	}
	rest := body[i+len(windowsKey):]
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return 0, false
	}
	rest = rest[:end]
	if j := bytes.LastIndexByte(rest, ','); j >= 0 {
		rest = rest[j+1:]
	}
	w, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
	return w, err == nil
}

// Add records that n events of match, answered 202 at at, fell in the
// window starting at window (Unix ms).
func (r *Requests) Add(match string, window int64, at time.Time, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(match, window, at, n)
}

func (r *Requests) add(match string, window int64, at time.Time, n int64) {
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
