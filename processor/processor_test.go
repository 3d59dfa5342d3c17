package processor

import (
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

const (
	winMs   = int64(2000)
	timeout = 30 * time.Second
)

// pastBase is the start of a window an hour ago.
var pastBase = wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), winMs)

// pastWindow is the start of the i-th window from pastBase.
func pastWindow(i int) int64 { return pastBase + int64(i)*winMs }

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// A backlog of windows long past, then live windows, on both brokers:
// every window of every match is delivered once, closed as soon as all
// partitions arrived, and the swarms sum to exactly what the partials held.
// The partition count comes from Kafka's metadata (on the real cluster,
// any of three nodes may answer).
func TestOnEachKafkaSwarmsSumToPartials(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 3, func(t *testing.T, k testenv.KafkaTarget) {
		r := newRig(t, 3, streams.Config{})
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 20 {
			r.window(rng, pastWindow(i), winMs)
		}
		r.processor(Config{KafkaBrokers: k.Brokers, Topic: k.Topic})
		r.exact(timeout)
		for i := range 5 {
			r.window(rng, pastWindow(20+i), winMs)
		}
		r.exact(timeout)
		for i := range 25 {
			sw := r.viewer.swarm("m1", pastWindow(i))
			if sw == nil || sw.ClosedBy != wire.ClosedByAllPartitions || sw.Partitions != 3 || sw.Late != 0 {
				r.dump(t, 25)
				t.Fatalf("window %d: %+v, want closed by all 3 partitions", i, sw)
			}
		}
	})
}

// A processor killed between two matches' swarms of one window, then
// replaced: the match already stored is neither republished nor recounted,
// the other is published, and nothing is lost, also after the dedup window
// has expired.
func TestKillBetweenMatchesAndRestart(t *testing.T) {
	for _, tt := range []struct {
		name string
		dup  time.Duration
	}{{"within the dedup window", 0}, {"after the dedup window", time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 3, streams.Config{Duplicates: tt.dup})
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range 6 {
				r.window(rng, pastWindow(i), winMs)
			}
			cancel, done, p := r.processor(Config{})
			p.beforePublish = func(sw *wire.Swarm) {
				if sw.MatchID == "m2" && sw.WindowStart.UnixMilli() == pastWindow(3) {
					testenv.WaitFor(t, timeout, "m1's swarm of window 3", func() bool { return r.viewer.has("m1", pastWindow(3)) })
					cancel()
				}
			}
			<-done
			killed := time.Now()
			if r.viewer.has("m2", pastWindow(3)) || r.viewer.equal(r.want) {
				t.Fatal("the kill did not fall between two matches' swarms")
			}
			testenv.WaitFor(t, timeout, "the dedup window to pass", func() bool { return time.Since(killed) > tt.dup })
			r.processor(Config{})
			r.exact(timeout)
			for i := range 4 {
				r.window(rng, pastWindow(6+i), winMs)
			}
			r.exact(timeout)
		})
	}
}

// Two processors at once, the first then killed: exact counts, each window
// once.
func TestTwoProcessors(t *testing.T) {
	r := newRig(t, 3, streams.Config{})
	rng := rand.New(rand.NewPCG(5, 6))
	cancel1, done1, _ := r.processor(Config{})
	for i := range 4 {
		r.window(rng, pastWindow(i), winMs)
	}
	r.exact(timeout)
	r.processor(Config{})
	for i := range 4 {
		r.window(rng, pastWindow(4+i), winMs)
	}
	r.exact(timeout)
	cancel1()
	<-done1
	for i := range 4 {
		r.window(rng, pastWindow(8+i), winMs)
	}
	r.exact(timeout)
}

// A partition whose partial is slow: its window closes by deadline without
// it, and its counts appear, late, in the next window, whose swarm names
// the window they were received in; the timeline by named window counts
// them there, by arrival where the swarm carried them.
func TestSlowPartitionFoldsIntoNextWindow(t *testing.T) {
	const win = 500 * time.Millisecond
	r := newRig(t, 3, streams.Config{})
	r.processor(Config{Window: win, PartitionWait: 150 * time.Millisecond, RestartGrace: -1})
	w0 := wire.WindowStart(time.Now().UnixMilli(), win.Milliseconds()) + win.Milliseconds()
	counts := func(n int64) wire.Counts { c := wire.Counts{}; c.Add("m1", "🔥", n); return c }
	r.publish(0, w0, win.Milliseconds(), counts(10))
	r.publish(1, w0, win.Milliseconds(), counts(20))
	testenv.WaitFor(t, timeout, "window 0 closed by deadline", func() bool { return r.viewer.has("m1", w0) })
	r.publish(2, w0, win.Milliseconds(), counts(7)) // the slow bridge
	w1 := w0 + win.Milliseconds()
	for p := range int32(3) {
		r.publish(p, w1, win.Milliseconds(), counts(1))
	}
	r.exact(timeout)
	s0, s1 := r.viewer.swarm("m1", w0), r.viewer.swarm("m1", w1)
	if s0.ClosedBy != wire.ClosedByDeadline || s0.Partitions != 2 || s0.Total != 30 {
		t.Errorf("window 0: %+v, want 30 from 2 partitions, closed by deadline", s0)
	}
	if s1.ClosedBy != wire.ClosedByAllPartitions || s1.Total != 10 || s1.Late != 7 ||
		fmt.Sprint(s1.LateWindows) != fmt.Sprint(map[int64]map[string]int64{w0: {"🔥": 7}}) {
		t.Errorf("window 1: %+v, want 10 of which 7 late from window 0, closed by all partitions", s1)
	}
	r.wantTimeline("m1", win, map[timeline.View]map[int64]int64{
		timeline.ByNamed:   {w0: 37, w1: 3},
		timeline.ByArrival: {w0: 30, w1: 10},
	})
}

// Records the bridge counted late (its partition had closed their window)
// in an on-time partial: the swarm says how many and from which windows,
// and the timeline by named window counts them there, also in a window
// that has no swarm of its own.
func TestBridgeLateCountsNamedInSwarmAndTimeline(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	r.processor(Config{})
	c := wire.Counts{}
	c.Add("m1", "🔥", 10)
	c.Add("m1", "👏", 4)
	r.publish(0, pastWindow(0), winMs, counts1("m1"))
	r.publishPartial(&wire.Partial{Partition: 0, WindowStartMs: pastWindow(3), WindowMs: winMs, Counts: c,
		LateCounts: map[int64]wire.Counts{
			pastWindow(0): {"m1": {"🔥": 2}},
			pastWindow(1): {"m1": {"🔥": 3, "👏": 4}}, // window 1 has no swarm: all its events came late
		}})
	r.exact(timeout)
	sw := r.viewer.swarm("m1", pastWindow(3))
	want := map[int64]map[string]int64{pastWindow(0): {"🔥": 2}, pastWindow(1): {"🔥": 3, "👏": 4}}
	if sw.Late != 9 || fmt.Sprint(sw.LateWindows) != fmt.Sprint(want) {
		t.Errorf("swarm late %d %v, want 9 %v", sw.Late, sw.LateWindows, want)
	}
	r.wantTimeline("m1", 2*time.Second, map[timeline.View]map[int64]int64{
		timeline.ByNamed:   {pastWindow(0): 3, pastWindow(1): 7, pastWindow(3): 5},
		timeline.ByArrival: {pastWindow(0): 1, pastWindow(3): 14},
	})
	r.timelineExact("m1")
}

// wantTimeline waits until match's timeline at step has, in each view, the
// totals of want per step (and no other step).
func (r *rig) wantTimeline(match string, step time.Duration, want map[timeline.View]map[int64]int64) {
	r.t.Helper()
	for by, totals := range want {
		var got map[int64]int64
		ok := testenv.Until(timeout, func() bool {
			got = map[int64]int64{}
			for s, c := range r.querySteps(match, step, by) {
				for _, n := range c {
					got[s] += n
				}
			}
			return maps.Equal(got, totals)
		})
		if !ok {
			r.t.Errorf("timeline of %s by %s: %v, want %v", match, by, got, totals)
		}
	}
}

// A second processor says once that it is a standby, and says so again
// when it takes over from the first.
func TestStandbySaysSo(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	rng := rand.New(rand.NewPCG(7, 8))
	cancel1, done1, _ := r.processor(Config{})
	r.window(rng, pastWindow(0), winMs)
	r.exact(timeout)
	var logs testenv.LogBuffer
	r.processor(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	testenv.WaitFor(t, timeout, "the standby line", func() bool { return strings.Contains(logs.String(), "standby: another processor") })
	cancel1()
	<-done1
	r.window(rng, pastWindow(1), winMs)
	testenv.WaitFor(t, timeout, "the take-over line", func() bool { return strings.Contains(logs.String(), "taking over") })
	r.exact(timeout)
	if n := strings.Count(logs.String(), "standby: another processor"); n != 1 {
		t.Fatalf("standby said %d times:\n%s", n, logs.String())
	}
}
