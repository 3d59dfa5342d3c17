package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// rig is a NATS server with the streams, a fake bridge that publishes
// partials as a real one would, and a viewer of emostream.live.>.
type rig struct {
	t      testing.TB
	nats   *testenv.NATS
	js     jetstream.JetStream
	parts  int
	next   map[int32]int64 // per partition: next Kafka offset
	want   map[string]map[string]int64
	viewer *viewer
	scfg   streams.Config
}

func newRig(t testing.TB, parts int, scfg streams.Config) *rig {
	n := testenv.StartNATS(t)
	nc, js := n.Connect()
	if err := streams.Ensure(context.Background(), js, scfg); err != nil {
		t.Fatal(err)
	}
	v := &viewer{seen: map[string]int{}, sum: map[string]map[string]int64{}, byKey: map[string]*wire.Swarm{}}
	if _, err := nc.Subscribe(wire.LiveSubjects, v.receive); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, nats: n, js: js, parts: parts, next: map[int32]int64{},
		want: map[string]map[string]int64{}, viewer: v, scfg: scfg}
}

// publish stores partition p's partial of the window starting at startMs.
func (r *rig) publish(p int32, startMs int64, windowMs int64, counts wire.Counts) {
	r.t.Helper()
	r.publishPart(p, startMs, windowMs, counts, false)
}

// publishPart is publish of a partial that may be split (more).
func (r *rig) publishPart(p int32, startMs int64, windowMs int64, counts wire.Counts, more bool) {
	r.t.Helper()
	r.publishPartial(&wire.Partial{Partition: p, WindowStartMs: startMs, WindowMs: windowMs, Counts: counts, More: more})
}

// publishPartial stores pt, given its partition, window, counts, late
// counts and More, as partition's next partial.
func (r *rig) publishPartial(pt *wire.Partial) {
	r.t.Helper()
	p, counts, n := pt.Partition, pt.Counts, pt.Counts.Total()
	pt.Topic, pt.FirstOffset, pt.LastOffset = wire.DefaultTopic, r.next[p], r.next[p]+n-1
	for _, lc := range pt.LateCounts {
		pt.Late += lc.Total()
	}
	r.next[p] += n
	data, _ := json.Marshal(pt)
	if _, err := r.js.Publish(context.Background(), wire.PartialSubject(p), data, jetstream.WithMsgID(pt.MsgID())); err != nil {
		r.t.Fatal(err)
	}
	for m, es := range counts {
		for e, c := range es {
			if r.want[m] == nil {
				r.want[m] = map[string]int64{}
			}
			r.want[m][e] += c
		}
	}
}

// randomCounts is a random activity of a few matches and emojis.
func randomCounts(rng *rand.Rand) wire.Counts {
	c := wire.Counts{}
	for _, m := range []string{"m1", "m2", "m3"} {
		for _, e := range []string{"🔥", "👏"} {
			c.Add(m, e, 1+rng.Int64N(1500))
		}
	}
	return c
}

// randomVideo is a random program-time part of c, a partial's counts of
// the window at startMs: for m1 and m2, some of their 🔥 in a window up to
// 30 windows earlier, but not before pastWindow(0), and some 👏 of m1 in
// the next window (a video_ts ahead of the receive time's window).
func randomVideo(rng *rand.Rand, c wire.Counts, startMs, windowMs int64) map[int64]wire.Counts {
	v := map[int64]wire.Counts{}
	for _, m := range []string{"m1", "m2"} {
		to := max(startMs-windowMs*(1+rng.Int64N(30)), pastWindow(0))
		if n := rng.Int64N(c[m]["🔥"] + 1); n > 0 && to != startMs {
			if v[to] == nil {
				v[to] = wire.Counts{}
			}
			v[to].Add(m, "🔥", n)
		}
	}
	if n := rng.Int64N(c["m1"]["👏"]/4 + 1); n > 0 {
		v[startMs+windowMs] = wire.Counts{"m1": {"👏": n}}
	}
	return v
}

// window publishes every partition's partial of window startMs, with
// random video counts.
func (r *rig) window(rng *rand.Rand, startMs, windowMs int64) {
	for p := range r.parts {
		c := randomCounts(rng)
		r.publishPartial(&wire.Partial{Partition: int32(p), WindowStartMs: startMs, WindowMs: windowMs,
			Counts: c, VideoCounts: randomVideo(rng, c, startMs, windowMs)})
	}
}

// processor starts a processor on the rig; cancel kills it.
func (r *rig) processor(cfg Config) (cancel func(), done <-chan struct{}, p *Processor) {
	cfg.NATSURL, cfg.Streams = r.nats.URL, r.scfg
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(r.t)
	}
	if cfg.Partitions == 0 && len(cfg.KafkaBrokers) == 0 {
		cfg.Partitions = r.parts
	}
	if cfg.PinnedTTL == 0 {
		cfg.PinnedTTL = 2 * time.Second
	}
	p, err := New(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	cancel, done = testenv.Background(r.t, "processor", p.Run)
	return cancel, done, p
}

// exact waits until the viewer's sums equal what the partials held, then
// checks that no window of a match was delivered twice.
func (r *rig) exact(timeout time.Duration) {
	r.t.Helper()
	testenv.WaitFor(r.t, timeout, "swarms summing to the partials", func() bool {
		return r.viewer.equal(r.want)
	})
	if d := r.viewer.dups(); d != "" {
		r.t.Fatalf("windows delivered twice: %s", d)
	}
}

// viewer sums the swarms received on emostream.live.>.
type viewer struct {
	mu    sync.Mutex
	seen  map[string]int // per Nats-Msg-Id
	sum   map[string]map[string]int64
	byKey map[string]*wire.Swarm
}

func (v *viewer) receive(m *nats.Msg) {
	sw, err := wire.DecodeSwarm(m.Data)
	if err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen[sw.MsgID()]++
	v.byKey[sw.MsgID()] = sw
	if v.sum[sw.MatchID] == nil {
		v.sum[sw.MatchID] = map[string]int64{}
	}
	for e, n := range sw.Counts {
		v.sum[sw.MatchID][e] += n
	}
}

func (v *viewer) equal(want map[string]map[string]int64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.EqualFunc(v.sum, want, maps.Equal)
}

func (v *viewer) has(match string, startMs int64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seen[wire.SwarmMsgID(match, startMs)] > 0
}

func (v *viewer) swarm(match string, startMs int64) *wire.Swarm {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.byKey[wire.SwarmMsgID(match, startMs)]
}

func (v *viewer) dups() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := ""
	for id, n := range v.seen {
		if n > 1 {
			out += fmt.Sprintf(" %s×%d", id, n)
		}
	}
	return out
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// dump logs match m1's swarms of the first n past windows.
func (r *rig) dump(t *testing.T, n int) {
	for i := range n {
		if sw := r.viewer.swarm("m1", pastWindow(i)); sw != nil {
			t.Logf("window %d: %s, %d partitions, total %d, late %d, offsets %v", i, sw.ClosedBy, sw.Partitions, sw.Total, sw.Late, sw.Offsets)
		} else {
			t.Logf("window %d: none", i)
		}
	}
}
