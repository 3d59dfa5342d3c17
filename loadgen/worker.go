package loadgen

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/valyala/fasthttp"
)

// worker sends one request at a time on its own request, response, body
// buffer and random source, so the hot loop allocates nothing.
type worker struct {
	g     *Generator
	rng   *rand.Rand
	req   *fasthttp.Request
	resp  *fasthttp.Response
	body  []byte
	sleep waiter
	// the match number of each event of the body, and their tally
	matches []uint64
	tally   []MatchEvents
}

func (g *Generator) newWorker(i uint64) *worker {
	seed := g.cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	w := &worker{
		g:    g,
		rng:  rand.New(rand.NewPCG(seed, i)),
		req:  new(fasthttp.Request),
		resp: new(fasthttp.Response),
	}
	w.req.SetRequestURI(g.url)
	w.req.Header.SetMethod(fasthttp.MethodPost)
	w.req.Header.SetContentType("application/json")
	if len(g.cfg.Tokens) > 0 {
		w.req.Header.Set("Authorization", "Bearer "+g.cfg.Tokens[i%uint64(len(g.cfg.Tokens))])
	}
	return w
}

func (w *worker) run(ctx context.Context, s *schedule) {
	now := time.Now()
	for {
		first, n, due, ok := s.take(now)
		if !ok || !w.sleep.wait(ctx, due) {
			return
		}
		now = w.send(first, n)
	}
}

// send posts n events numbered from first, records the outcome and returns
// when the answer came.
func (w *worker) send(first int64, n int) time.Time {
	w.body, w.matches = w.g.enc.appendBody(w.body[:0], w.matches[:0], w.rng, first, n)
	w.req.SetBodyRaw(w.body)
	sent := time.Now()
	err := w.g.client.DoTimeout(w.req, w.resp, w.g.cfg.Timeout)
	done := time.Now()
	r := Result{FirstEvent: first, Events: n, Sent: sent, Latency: done.Sub(sent), Err: err}
	if err == nil {
		r.Status = w.resp.StatusCode()
		r.Body = w.resp.Body()
		r.Accepted = acceptedOf(r.Status, r.Body, n)
	}
	w.g.stats.record(&r)
	if w.g.cfg.OnResult != nil {
		w.tally = tally(w.tally[:0], w.matches)
		r.Matches = w.tally
		w.g.cfg.OnResult(r)
	}
	return done
}

// tally appends each distinct match of matches, with how often it occurs,
// to dst in increasing order. It sorts matches.
func tally(dst []MatchEvents, matches []uint64) []MatchEvents {
	slices.Sort(matches)
	for _, m := range matches {
		if n := len(dst); n > 0 && dst[n-1].Match == m {
			dst[n-1].Events++
			continue
		}
		dst = append(dst, MatchEvents{Match: m, Events: 1})
	}
	return dst
}

// record adds one request's outcome to the counters.
func (s *stats) record(r *Result) {
	s.requests.Add(1)
	s.events.Add(int64(r.Events))
	switch {
	case r.Err != nil && isTimeout(r.Err):
		s.timeouts.Add(1)
	case r.Err != nil:
		s.errors.Add(1)
	default:
		s.latency.Record(r.Latency)
		if r.Status >= 0 && r.Status < len(s.status) {
			s.status[r.Status].Add(1)
		}
		if r.Status/100 == 2 {
			s.accepted.Add(int64(r.Accepted))
		} else {
			s.rejected.Add(int64(r.Events))
		}
	}
}

func isTimeout(err error) bool {
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, fasthttp.ErrDialTimeout)
}

var acceptedKey = []byte(`"accepted":`)

// acceptedOf reads N from a 2xx reply {"accepted":N,...} without decoding
// the rest. A 2xx reply without it counts all events, and so does an N
// over them (read no further than that, however long); others count none.
func acceptedOf(status int, body []byte, events int) int {
	if status/100 != 2 {
		return 0
	}
	i := bytes.Index(body, acceptedKey)
	if i < 0 {
		return events
	}
	n, digits := 0, 0
	for _, c := range bytes.TrimLeft(body[i+len(acceptedKey):], " ") {
		if c < '0' || c > '9' {
			break
		}
		n, digits = n*10+int(c-'0'), digits+1
		if n > events {
			return events
		}
	}
	if digits == 0 {
		return events
	}
	return n
}
