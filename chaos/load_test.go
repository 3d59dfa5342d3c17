package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emostream/emostream/wire"
)

// outcome is what the client knows about a request in the end.
type outcome int

const (
	notAttempted outcome = iota
	acked                // some attempt got 202
	rejected             // every answer was a 4xx: nothing may be counted
	unknown              // timeouts, connection errors or 503 only: 0 or 1 copy may be counted
)

// request is one POST of 1..maxEvents events of one match, unique to the
// request, so that the swarm stream's counts of that match are exactly the
// request's events counted once, twice, or not at all. A match's one other
// request is its tail (tail true): one event of tailEmoji, which no other
// request sends, so the two are told apart by emoji.
type request struct {
	match string
	tail  bool
	body  []byte
	want  map[string]int64 // events per emoji
	n     int64

	mu       sync.Mutex
	out      outcome
	attempts []string // "202", "503", "timeout", ...
	ackedAt  time.Time
	firstTry time.Time // when the first attempt was sent
	windows  []int64   // the 202's windows: where its events must be counted
}

// ledger holds every request of a run and what happened to it.
type ledger struct {
	mu     sync.Mutex
	reqs   []*request
	client *http.Client
	url    string

	ackedEvents, attempts atomic.Int64
	// retryFor bounds how long a request is retried after its first try.
	retryFor time.Duration
	// onMatch, if set, is called with each new match before its first
	// request is built (the viewer starts watching it).
	onMatch func(match string)
	tailed  map[string]bool // matches given their tail request
}

// tailEmoji is the emoji of tail requests only; loadEmojis are the others.
var (
	tailEmoji  = wire.DefaultEmojis[len(wire.DefaultEmojis)-1]
	loadEmojis = wire.DefaultEmojis[:len(wire.DefaultEmojis)-1]
)

// Client timeouts: shorter than ingest's own 5s produce timeout, so a
// stalled pipeline shows up as unknown requests, which are then retried.
const clientTimeout = 3 * time.Second

func newLedger(httpAddr string, retryFor time.Duration) *ledger {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	return &ledger{url: "http://" + httpAddr + "/v1/emojis", retryFor: retryFor,
		client: &http.Client{Timeout: clientTimeout, Transport: tr}}
}

type jsonEvent struct {
	UserID    string `json:"user_id"`
	MatchID   string `json:"match_id"`
	EmojiType string `json:"emoji_type"`
	EventID   string `json:"event_id"`
}

// newRequest builds request i of a run; rng decides its size and emojis.
func (l *ledger) newRequest(prefix string, i int, rng *rand.Rand, maxEvents int) *request {
	r := &request{match: fmt.Sprintf("%s-%d", prefix, i), want: map[string]int64{}}
	if l.onMatch != nil {
		l.onMatch(r.match)
	}
	n := 1 + rng.IntN(maxEvents)
	evs := make([]jsonEvent, n)
	for j := range evs {
		e := loadEmojis[rng.IntN(len(loadEmojis))]
		evs[j] = jsonEvent{UserID: fmt.Sprintf("u%d-%d", i, j), MatchID: r.match, EmojiType: e,
			EventID: fmt.Sprintf("%s-%d-%d", prefix, i, j)}
		r.want[e]++
	}
	return l.add(r, evs)
}

// add completes r with the body of evs and records it.
func (l *ledger) add(r *request, evs []jsonEvent) *request {
	r.n = int64(len(evs))
	r.body, _ = json.Marshal(evs)
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
	return r
}

// newTails builds the tail request of every match that has none yet: one
// event of tailEmoji, so each match's last window comes after the run's
// faults, as a match goes on after a fault (a viewer's gap rule fetches
// the windows it missed when the match's next one arrives).
func (l *ledger) newTails() []*request {
	l.mu.Lock()
	var matches []string
	for _, r := range l.reqs {
		if !l.tailed[r.match] {
			if l.tailed == nil {
				l.tailed = map[string]bool{}
			}
			l.tailed[r.match] = true
			matches = append(matches, r.match)
		}
	}
	l.mu.Unlock()
	out := make([]*request, 0, len(matches))
	for _, m := range matches {
		r := &request{match: m, tail: true, want: map[string]int64{tailEmoji: 1}}
		out = append(out, l.add(r, []jsonEvent{{UserID: "tail", MatchID: m, EmojiType: tailEmoji, EventID: m + "-tail"}}))
	}
	return out
}

// countedOf is the part of a match's stored counts that r's events make:
// its tail emoji, or every other.
func (r *request) countedOf(all map[string]int64) map[string]int64 {
	got := map[string]int64{}
	for e, n := range all {
		if (e == tailEmoji) == r.tail {
			got[e] = n
		}
	}
	return got
}

// send posts r until it is acked or rejected, or retryFor passes, always
// with the same body (the same event_ids), as a careful client retries.
func (l *ledger) send(ctx context.Context, r *request) outcome {
	first := time.Now()
	backoff := 50 * time.Millisecond
	for {
		status := l.attempt(ctx, r)
		switch {
		case status == "202":
			r.finish(acked)
			l.ackedEvents.Add(r.n)
			return acked
		case len(status) == 3 && status[0] == '4':
			r.finish(rejected)
			return rejected
		}
		if ctx.Err() != nil || time.Since(first) > l.retryFor {
			r.finish(unknown)
			return unknown
		}
		select { // retry pacing, as a client backs off
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (r *request) finish(o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out != acked { // a 202 is final
		r.out = o
	}
	if o == acked {
		r.ackedAt = time.Now()
	}
}

// attempt posts once and names the result: the status code, "timeout" or
// "conn".
func (l *ledger) attempt(ctx context.Context, r *request) string {
	l.attempts.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(r.body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sent := time.Now()
	res, err := l.client.Do(req)
	status := "conn"
	var windows []int64
	if err == nil {
		if res.StatusCode == http.StatusAccepted {
			var a struct{ Windows []int64 }
			if json.NewDecoder(res.Body).Decode(&a) == nil {
				windows = a.Windows
			}
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		status = fmt.Sprint(res.StatusCode)
	} else if isTimeout(err) {
		status = "timeout"
	}
	r.mu.Lock()
	r.attempts = append(r.attempts, status)
	if r.out == notAttempted {
		r.out, r.firstTry = unknown, sent
	}
	if windows != nil {
		r.windows = windows
	}
	r.mu.Unlock()
	return status
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// load sends up to n requests at about rate per second from workers
// goroutines, each retried as send does. It stops sending new requests when
// stop is closed or n were sent, and returns when every sent one settled.
func (l *ledger) load(ctx context.Context, stop <-chan struct{}, prefix string, seed uint64, n, workers int, rate float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	next, wait := l.senders(ctx, workers)
	defer wait()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
dispatch:
	for i := range n {
		select { // the load's pace
		case <-ctx.Done():
			break dispatch
		case <-stop:
			break dispatch
		case <-tick.C:
		}
		next <- l.newRequest(prefix, i, rng, 20)
	}
}

// senders starts workers goroutines that send each request put on next;
// wait stops them once the requests put settled.
func (l *ledger) senders(ctx context.Context, workers int) (next chan<- *request, wait func()) {
	ch := make(chan *request)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for r := range ch {
				l.send(ctx, r)
			}
		})
	}
	return ch, func() { close(ch); wg.Wait() }
}

// snapshot copies what the ledger knows, for the verdict.
func (l *ledger) snapshot() []*request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*request(nil), l.reqs...)
}
