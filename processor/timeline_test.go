package processor

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// querySteps is what the timeline answers for match at step over every
// window from pastWindow(0) on, in view by.
func (r *rig) querySteps(match string, step time.Duration, by timeline.View) map[int64]map[string]int64 {
	r.t.Helper()
	nc, _ := r.nats.Connect()
	rd := timeline.NewReader(nc, wire.TimelineStream, 0)
	ms := step.Milliseconds()
	q := timeline.Query{Match: match, Step: step, From: wire.WindowStart(pastWindow(0), ms),
		To: wire.WindowStart(time.Now().UnixMilli(), ms) + ms, By: by}
	got := map[int64]map[string]int64{}
	err := rd.Steps(context.Background(), q, func(s timeline.Step) error {
		if _, dup := got[s.Start]; dup {
			r.t.Errorf("step %d emitted twice", s.Start)
		}
		got[s.Start] = s.Counts
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return got
}

// liveSteps sums the swarms the viewer received for match into steps, in
// view by: ByArrival as they carried them, ByNamed with their
// late_windows moved to the windows they name, ByVideo with their
// video_windows moved likewise.
func (r *rig) liveSteps(match string, step time.Duration, by timeline.View) map[int64]map[string]int64 {
	r.viewer.mu.Lock()
	defer r.viewer.mu.Unlock()
	out := map[int64]map[string]int64{}
	add := func(start int64, e string, n int64) {
		s := wire.WindowStart(start, step.Milliseconds())
		if out[s] == nil {
			out[s] = map[string]int64{}
		}
		if out[s][e] += n; out[s][e] == 0 {
			delete(out[s], e)
		}
	}
	for _, sw := range r.viewer.byKey {
		if sw.MatchID != match {
			continue
		}
		for e, n := range sw.Counts {
			add(sw.WindowStart.UnixMilli(), e, n)
		}
		moved := sw.LateWindows
		switch by {
		case timeline.ByArrival:
			continue
		case timeline.ByVideo:
			moved = sw.VideoWindows
		}
		for origin, c := range moved {
			for e, n := range c {
				add(origin, e, n)
				add(sw.WindowStart.UnixMilli(), e, -n)
			}
		}
	}
	for s, c := range out {
		if len(c) == 0 {
			delete(out, s)
		}
	}
	return out
}

// timelineExact waits until, for every step size and every view, each
// step of the timeline equals the sum of the live swarms in it.
func (r *rig) timelineExact(matches ...string) {
	r.t.Helper()
	steps := []time.Duration{2 * time.Second, 10 * time.Second, time.Minute, 5 * time.Minute}
	var diff string
	ok := testenv.Until(timeout, func() bool {
		for _, m := range matches {
			for _, step := range steps {
				for _, by := range []timeline.View{timeline.ByArrival, timeline.ByNamed, timeline.ByVideo} {
					got, want := r.querySteps(m, step, by), r.liveSteps(m, step, by)
					if !maps.EqualFunc(got, want, maps.Equal) {
						diff = fmt.Sprintf("%s at %v by %s:\n got  %v\n want %v", m, step, by, got, want)
						return false
					}
				}
			}
		}
		return true
	})
	if !ok {
		r.t.Fatalf("timeline not equal to the live swarms within %v: %s", timeout, diff)
	}
}

// Windows across several minutes, the processor stopped twice mid-match —
// once just before a swarm's publish, after other swarms of the window
// were sent but before their timeline records — and started again: at
// every step size, every step equals the live swarms in it, none twice.
func TestTimelineExactAcrossRestarts(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	rng := rand.New(rand.NewPCG(11, 12))
	cancel, done, _ := r.processor(Config{})
	next := 0
	windows := func(n int) {
		for range n {
			r.window(rng, pastWindow(next), winMs)
			next++
		}
	}
	windows(70)
	r.exact(timeout)
	cancel()
	<-done
	// The next processor dies just before publishing m2's swarm of a window:
	// m1's swarm of it may be stored without its timeline record.
	ctx, kill := context.WithCancel(context.Background())
	p, err := New(Config{NATSURL: r.nats.URL, Partitions: r.parts, PinnedTTL: 2 * time.Second, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p.beforePublish = func(sw *wire.Swarm) {
		if sw.MatchID == "m2" && sw.WindowStart.UnixMilli() == pastWindow(100) {
			kill()
		}
	}
	ran := make(chan struct{})
	go func() { defer close(ran); _ = p.Run(ctx) }()
	windows(60)
	<-ran
	_, _, p3 := r.processor(Config{})
	windows(60)
	r.exact(timeout)
	r.timelineExact("m1", "m2", "m3")
	if a, v := r.liveSteps("m1", 2*time.Second, timeline.ByArrival), r.liveSteps("m1", 2*time.Second, timeline.ByVideo); maps.EqualFunc(a, v, maps.Equal) {
		t.Error("the program-time view equals the arrival view: the swarms carried no video_windows")
	}
	var m dto.Metric
	_ = p3.met.timelineBackfilled.Write(&m)
	if n := m.GetCounter().GetValue(); n < 1 {
		t.Errorf("%v window records backfilled after the kill, want at least m1's", n)
	}
	for _, step := range wire.RollupSteps {
		if n := r.count(wire.TimelineSubject("m1", wire.StepName(step))); n < int(190*winMs/step.Milliseconds())-1 {
			t.Errorf("%d rollups of %v, want one per closed step", n, step)
		}
	}
}

// count is how many messages the timeline stream holds on subject.
func (r *rig) count(subject string) int {
	nc, _ := r.nats.Connect()
	n := 0
	err := timeline.NewReader(nc, wire.TimelineStream, 0).Scan(context.Background(), subject, 1,
		func(timeline.Msg) (bool, error) { n++; return true, nil })
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// A crash between a minute's last window record and its rollup: reading
// the match's timeline back writes the missing rollup (of the closed minute
// only), with the sequences of the window records it sums, once.
func TestTimelineReadBackWritesMissingRollups(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	nc, js := r.nats.Connect()
	ctx := context.Background()
	p, err := New(Config{NATSURL: r.nats.URL, Partitions: 1, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.open(ctx, nc); err != nil {
		t.Fatal(err)
	}
	t0 := wire.WindowStart(pastWindow(0), (5 * time.Minute).Milliseconds())
	var seqs []uint64
	for i := range 40 { // 80 s: minute 0 closed, minute 1 open; no rollup written
		rec := wire.TimelineRecord{Start: t0 + int64(i)*2000, Counts: map[string]int64{"🔥": int64(i)}, Total: int64(i), Swarm: uint64(i + 1)}
		ack, err := js.Publish(ctx, wire.TimelineSubject("m1", wire.TimelineWindows), mustJSON(rec))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ack.Sequence)
	}
	for range 2 { // the second read-back finds the rollup and writes none
		tl, err := p.loadTimeline(ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		if tl.last != seqs[39] || tl.lastStart != t0+78_000 || tl.steps[0].start != t0+60_000 || tl.steps[0].total != 30+31+32+33+34+35+36+37+38+39 {
			t.Fatalf("state %+v, steps %+v", tl, tl.steps)
		}
	}
	if n := r.count(wire.TimelineSubject("m1", "1m")); n != 1 {
		t.Fatalf("%d one-minute rollups, want 1", n)
	}
	if n := r.count(wire.TimelineSubject("m1", "5m")); n != 0 {
		t.Fatalf("%d five-minute rollups of an open step", n)
	}
	m, err := p.tlRead.Last(ctx, wire.TimelineSubject("m1", "1m"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := wire.DecodeTimelineRecord(m.Data)
	if rec.Start != t0 || rec.Total != 435 || rec.Counts["🔥"] != 435 || rec.First != seqs[0] || rec.Last != seqs[29] {
		t.Errorf("rollup %+v, want minute 0: 435 from records %d..%d", rec, seqs[0], seqs[29])
	}
}
