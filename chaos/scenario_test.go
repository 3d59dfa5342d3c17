package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// fault is one thing done to one stage.
type fault struct {
	stage string
	pause time.Duration // zero: kill -9 and restart; else SIGSTOP for this long
}

func (f fault) String() string {
	if f.pause > 0 {
		return fmt.Sprintf("SIGSTOP %s %v", f.stage, f.pause)
	}
	return "kill -9 " + f.stage
}

// run is one seeded scenario on one cluster.
type run struct {
	t       testing.TB
	c       *cluster
	l       *ledger
	v       *viewer
	seed    uint64
	rng     *rand.Rand
	probeN  int
	settles int

	mu       sync.Mutex
	recovery []time.Duration
	// settleFor bounds the wait for sentinels. Zero means 90s.
	settleFor time.Duration
	notes     []string
}

func newRun(t testing.TB, seed uint64, extra map[string][]string) *run {
	c := startCluster(t, extra)
	r := &run{t: t, c: c, seed: seed, settleFor: 90 * time.Second, rng: rand.New(rand.NewPCG(seed, 1)),
		l: newLedger(c.addr["http"], 60*time.Second)}
	r.v = c.startViewer(r.l)
	return r
}

// loadDuring runs load in the background and returns a function that stops
// sending new requests and waits for the sent ones to settle.
func (r *run) loadDuring(ctx context.Context, maxRequests int, rate float64) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.l.load(ctx, stop, fmt.Sprintf("s%d", r.seed), r.seed, maxRequests, 4, rate)
	}()
	return func() {
		close(stop)
		<-done
	}
}

// underLoad is the long runs' scenario of one fault: load, a seeded gap,
// the fault, another gap, then settle and account for every event.
func (r *run) underLoad(ctx context.Context, scenario string, inject func()) {
	stop := r.loadDuring(ctx, 3000, 20)
	r.gap(100, 400)
	inject()
	r.gap(100, 300)
	stop()
	r.settle(ctx)
	r.finish(scenario)
}

// gap waits until between lo and hi more events were acknowledged, the
// seeded point of the next fault.
func (r *run) gap(lo, hi int) {
	target := r.l.ackedEvents.Load() + int64(lo+r.rng.IntN(hi-lo+1))
	if !testenv.Until(30*time.Second, func() bool { return r.l.ackedEvents.Load() >= target }) {
		r.note("load stalled before a fault: %d of %d events acked", r.l.ackedEvents.Load(), target)
	}
}

// inject applies f and returns once the stage is back, recording the
// recovery time: from the fault until a viewer received a probe event's
// swarm sent after it.
func (r *run) inject(ctx context.Context, f fault) {
	r.t.Helper()
	p := r.c.procs[f.stage]
	t0 := time.Now()
	if f.pause > 0 {
		p.pause()
		select { // the length of the pause is the fault itself
		case <-time.After(f.pause):
		case <-ctx.Done():
		}
		p.resume()
	} else {
		p.kill()
		// Down until a few more requests were tried (or 5s).
		target := r.l.attempts.Load() + int64(3+r.rng.IntN(20))
		testenv.Until(5*time.Second, func() bool { return r.l.attempts.Load() >= target })
		p.start()
		r.c.waitReady(f.stage, 90*time.Second)
	}
	r.t.Logf("%s: stage back after %v", f, time.Since(t0).Round(time.Millisecond))
	d := r.probe(ctx, t0)
	r.mu.Lock()
	r.recovery = append(r.recovery, d)
	r.mu.Unlock()
	r.t.Logf("%s: recovered after %v", f, d.Round(time.Millisecond))
}

// probe sends one event of its own match and waits until the viewer
// received its swarm; it returns the time from t0, or -1.
func (r *run) probe(ctx context.Context, t0 time.Time) time.Duration {
	return r.probes(ctx, t0, 1, 90*time.Second)
}

// probes sends up to n probes, one every interval, until the viewer
// received the swarm of any of them; it returns the time from t0 to the
// first received, or -1.
func (r *run) probes(ctx context.Context, t0 time.Time, n int, interval time.Duration) time.Duration {
	var sent []string
	var at time.Time
	seen := func() bool {
		for _, m := range sent {
			if t, ok := r.v.seen(m); ok && (at.IsZero() || t.Before(at)) {
				at = t
			}
		}
		return !at.IsZero()
	}
	for range n {
		r.probeN++
		req := r.l.newRequest(fmt.Sprintf("probe%d", r.seed), r.probeN, r.rng, 1)
		if r.l.send(ctx, req) != acked {
			r.note("probe %s not acked: %v", req.match, req.attempts)
			continue
		}
		sent = append(sent, req.match)
		if testenv.Until(interval, seen) {
			return at.Sub(t0)
		}
	}
	r.note("probes %v acked but no viewer received any within %v each", sent, interval)
	return -1
}

// settle ends every match with its tail request (ledger.newTails), sends
// two rounds of sentinel events, one request per user, and waits until a
// viewer received every one: everything acked before them has then been
// read by the bridges and merged by the processor. Then it waits until the
// viewer showed every acked tail: a watcher shows a match's tail only after
// the match's windows it missed before, or after reporting them lost.
func (r *run) settle(ctx context.Context) {
	r.t.Helper()
	tails := r.l.newTails()
	sendAll(ctx, r.l, tails, 8)
	r.sentinels(ctx)
	ok := testenv.Until(r.settleFor, func() bool {
		for _, q := range tails {
			if q.outcome() == acked && !r.v.tailSeen(q.match) {
				return false
			}
		}
		return true
	})
	if !ok {
		r.note("not every acked tail reached the viewer within %v", r.settleFor)
	}
}

// sendAll sends reqs from workers goroutines and returns when each settled.
func sendAll(ctx context.Context, l *ledger, reqs []*request, workers int) {
	next, wait := l.senders(ctx, workers)
	for _, q := range reqs {
		next <- q
	}
	wait()
}

// sentinels is settle's two rounds of sentinel events.
func (r *run) sentinels(ctx context.Context) {
	for round := range 2 {
		r.settles++
		var reqs []*request
		for i := range 32 {
			reqs = append(reqs, r.l.newRequest(fmt.Sprintf("sentinel%d-%d", r.seed, r.settles), i, r.rng, 1))
		}
		var wg sync.WaitGroup
		for _, q := range reqs {
			wg.Go(func() { r.l.send(ctx, q) })
		}
		wg.Wait()
		ok := testenv.Until(r.settleFor, func() bool {
			for _, q := range reqs {
				if _, seen := r.v.seen(q.match); !seen && q.outcome() == acked {
					return false
				}
			}
			return true
		})
		if !ok {
			r.note("sentinel round %d: not every acked sentinel reached the viewer within %v", round, r.settleFor)
		}
	}
}

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	r.t.Logf("note: "+format, args...)
}

// finish reads the truth, classifies every event, reports and checks.
func (r *run) finish(scenario string) *tally {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := r.c.readSwarms(ctx)
	if err != nil {
		r.t.Fatalf("reading the swarm stream: %v", err)
	}
	k, err := r.c.readKafka(ctx)
	if err != nil {
		r.t.Fatalf("reading kafka: %v", err)
	}
	reqs := r.l.snapshot()
	tl := classify(reqs, st, k, r.v.deliveries())
	tls, off := r.c.readTimelines(ctx, reqs, st)
	tl.Windows202 = classifyWindows(reqs, st, tls, off)
	tl.Scenario, tl.Seed, tl.Recovery, tl.Notes = scenario, r.seed, r.recovery, r.notes
	tl.Crashes = r.c.crashes()
	tl.Viewer = r.v.stats()
	report(r.t, tl)
	return tl
}

// seeds are the seeds of the long runs: EMOSTREAM_CHAOS_SEEDS=1,2,3.
func seeds(t testing.TB, def string) []uint64 {
	s := os.Getenv("EMOSTREAM_CHAOS_SEEDS")
	if s == "" {
		s = def
	}
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			t.Fatalf("EMOSTREAM_CHAOS_SEEDS: %v", err)
		}
		out = append(out, n)
	}
	return out
}
