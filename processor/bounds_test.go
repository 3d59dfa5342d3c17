package processor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// split is part with More set: the bridge split its window.
func split(p *wire.Partial) *wire.Partial { p.More = true; return p }

// Split partials of one partition and window merge into the window, which
// waits for the partition's last one (without More).
func TestMergerSplitPartials(t *testing.T) {
	const dl = 400 * time.Millisecond
	tests := []struct {
		name  string
		parts int
		in    []delivery
		now   time.Time
		want  []closing
	}{
		{"a split partial does not complete the window", 1,
			[]delivery{{split(part(0, 0, 0, 9, 10)), 1, end(0, 0)}},
			end(0, dl-time.Millisecond), nil},
		{"the last partial of the split closes it with every count", 1,
			[]delivery{{split(part(0, 0, 0, 9, 10)), 1, end(0, 0)}, {split(part(0, 0, 10, 14, 5)), 2, end(0, 0)},
				{part(0, 0, 15, 15, 1), 3, end(0, 0)}},
			end(0, 0), []closing{{0, wire.ClosedByAllPartitions, 16, 0}}},
		{"a later window completes a split one (bridge restarted)", 1,
			[]delivery{{split(part(0, 0, 0, 9, 10)), 1, end(0, 0)}, {part(0, 1, 10, 11, 2), 2, end(1, 0)}},
			end(0, 0), []closing{{0, wire.ClosedByAllPartitions, 10, 0}, {1, wire.ClosedByAllPartitions, 2, 0}}},
		{"a split window still closes by deadline", 2,
			[]delivery{{split(part(0, 0, 0, 9, 10)), 1, end(0, 0)}, {part(1, 0, 0, 4, 5), 2, end(0, 0)}},
			end(0, dl), []closing{{0, wire.ClosedByDeadline, 15, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(testWindow, dl, tt.parts)
			for _, d := range tt.in {
				m.add(d.p, d.seq, d.received, nil)
			}
			if got := drain(m, tt.now, true); !equalClosings(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A match counted up to the first partial of a split window counts the rest.
func TestTallyOfSplitPartials(t *testing.T) {
	m := newMerger(testWindow, time.Second, 1)
	m.add(split(part(0, 0, 0, 9, 10)), 1, end(0, 0), nil)
	m.add(part(0, 0, 10, 13, 4), 2, end(0, 0), nil)
	win, _ := m.next(end(0, 0), true)
	st := newMatchState()
	st.partials[0] = 1 // the first partial is counted already
	tl := tallyOf(win, "m1", st, nil)
	if tl.counts["🔥"] != 4 || tl.partials[0] != 2 || tl.offsets[0] != 14 {
		t.Errorf("tally %d, partials %v, offsets %v; want 4, seq 2, offset 14", tl.counts["🔥"], tl.partials, tl.offsets)
	}
}

// Past MaxOpenWindows the earliest window closes at once; a partial that
// arrives for it later counts, late, in the next window.
func TestMergerOpenWindowsCap(t *testing.T) {
	m := newMerger(testWindow, time.Second, 2)
	m.maxOpen = 2
	for i := range 4 { // partition 1 lags: only partition 0 delivers
		m.add(part(0, i, int64(i*10), int64(i*10+9), 10), uint64(i+1), end(i, 0), nil)
	}
	got := drain(m, end(3, 0), false)
	want := []closing{{0, closedByCap, 10, 0}, {1, closedByCap, 10, 0}}
	if !equalClosings(got, want) || len(m.open) != 2 || m.entries != 2 {
		t.Fatalf("got %+v with %d open, %d entries; want %+v, 2 open, 2 entries", got, len(m.open), m.entries, want)
	}
	m.add(part(1, 0, 0, 6, 7), 5, end(3, 0), nil) // the laggard's window 0
	m.add(part(1, 3, 7, 7, 1), 6, end(3, 0), nil)
	got = drain(m, end(3, 0), false)
	want = []closing{{2, wire.ClosedByAllPartitions, 17, 7}, {3, wire.ClosedByAllPartitions, 11, 0}}
	if !equalClosings(got, want) || m.entries != 0 {
		t.Errorf("got %+v, %d entries left; want %+v", got, m.entries, want)
	}
}

func TestStateCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newStateCache(2)
	a, b, d := newMatchState(), newMatchState(), newMatchState()
	c.put("a", a)
	c.put("b", b)
	c.get("a") // b is now the least recently used
	c.put("d", d)
	if _, ok := c.get("b"); ok || c.len() != 2 || c.evicted != 1 {
		t.Fatalf("b still cached (%v), len %d, evicted %d", ok, c.len(), c.evicted)
	}
	if got, ok := c.get("a"); !ok || got != a {
		t.Error("a was dropped")
	}
}

// The largest swarm ingest's input can produce fits DefaultMaxSwarmBytes:
// the longest match id, an allow-list of 64 emojis of the longest spelling
// with every count at its widest, and 512 partitions.
func TestWorstCaseSwarmFits(t *testing.T) {
	const partitions, emojis = 512, 64
	sw := &wire.Swarm{MatchID: strings.Repeat("m", wire.MaxMatchID), WindowStart: time.UnixMilli(math.MaxInt32),
		WindowEnd: time.UnixMilli(math.MaxInt32 + 2000), Counts: map[string]int64{}, Swarm: map[string]int64{},
		Carry: map[string]int64{}, Total: math.MaxInt64, Partitions: partitions, ClosedBy: wire.ClosedByAllPartitions,
		PublishedAt: time.Now(), Late: math.MaxInt64, Offsets: map[int32]int64{}, Partials: map[int32]uint64{}}
	for i := range emojis {
		e := fmt.Sprintf("%02d", i) + strings.Repeat("🔥", (wire.MaxEmojiBytes-2)/4)
		sw.Counts[e], sw.Swarm[e], sw.Carry[e] = math.MaxInt64, math.MaxInt64, math.MaxInt64
	}
	for p := range int32(partitions) {
		sw.Offsets[math.MaxInt32-p], sw.Partials[math.MaxInt32-p] = math.MaxInt64, math.MaxUint64
	}
	data, err := sw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > DefaultMaxSwarmBytes {
		t.Errorf("worst-case swarm is %d bytes, over %d", len(data), DefaultMaxSwarmBytes)
	}
	t.Logf("worst-case swarm: %d bytes of %d", len(data), DefaultMaxSwarmBytes)
}

// Split partials over real JetStream: one swarm with every count, closed
// when the split partition's last partial arrived.
func TestSplitPartialsMergeIntoOneSwarm(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	r.processor(Config{PartitionWait: time.Hour}) // only all_partitions closes
	counts := func(n int64) wire.Counts { c := wire.Counts{}; c.Add("m1", "🔥", n); return c }
	r.publishPart(0, pastWindow(0), winMs, counts(10), true)
	r.publishPart(0, pastWindow(0), winMs, counts(20), true)
	r.publish(1, pastWindow(0), winMs, counts(1))
	r.publish(0, pastWindow(0), winMs, counts(300))
	r.exact(timeout)
	sw := r.viewer.swarm("m1", pastWindow(0))
	if sw.Total != 331 || sw.Late != 0 || sw.ClosedBy != wire.ClosedByAllPartitions {
		t.Errorf("swarm %+v, want 331 counted at once", sw)
	}
}

// A restart reads back only the matches its windows need, not every match
// ever seen.
func TestRestartLoadsMatchStatesLazily(t *testing.T) {
	const flood = 400
	r := newRig(t, 1, streams.Config{})
	c := wire.Counts{}
	for i := range flood {
		c.Add(fmt.Sprint("flood-", i), "🔥", 1)
	}
	r.publish(0, pastWindow(0), winMs, c)
	cancel, done, _ := r.processor(Config{Registerer: prometheus.NewRegistry()})
	r.exact(timeout)
	r.waitAcked(1, "the flood's partial")
	cancel()
	<-done
	reg := prometheus.NewRegistry()
	r.processor(Config{Registerer: reg, MaxMatchStates: 100})
	r.publish(0, pastWindow(1), winMs, counts1("m1"))
	r.exact(timeout)
	if loads := gather(t, reg, "emostream_processor_match_state_loads_total"); loads > 2 {
		t.Errorf("restart read %v match states, want the 1 it needed", loads)
	}
}

func counts1(match string) wire.Counts { c := wire.Counts{}; c.Add(match, "👏", 1); return c }

// A swarm over MaxSwarmBytes stops the processor loudly, its partials
// unacknowledged; a processor with room then counts them, none lost.
func TestTooLargeSwarmStopsLoudly(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	c := wire.Counts{}
	for i := range 200 { // only a writer other than ingest could do this
		c.Add("m1", fmt.Sprintf("emoji-%03d", i), 1)
	}
	r.publish(0, pastWindow(0), winMs, c)
	reg := prometheus.NewRegistry()
	p, err := New(Config{NATSURL: r.nats.URL, Partitions: 1, Logger: testenv.Logger(t), Registerer: reg,
		PinnedTTL: 2 * time.Second, MaxSwarmBytes: minSwarmBytes})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.Run(ctx); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Run: %v, want ErrTooLarge", err)
	}
	if !errors.Is(p.Ready(), ErrTooLarge) || gather(t, reg, "emostream_processor_publish_errors_total") != 1 {
		t.Errorf("Ready %v, publish_errors_total %v; want ErrTooLarge and 1", p.Ready(), gather(t, reg, "emostream_processor_publish_errors_total"))
	}
	r.processor(Config{PinnedTTL: 2 * time.Second})
	r.exact(timeout)
}

// A partial of a window outside years 0000-9999 (bridges once published
// one for a record with "received_at":9223372036854775807) is dropped as
// bad when it arrives: a swarm of its window could not be encoded, and
// retrying one held up every match's swarms. The other windows' swarms go
// on.
func TestPartialOfUnencodableWindowIsDropped(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	reg := prometheus.NewRegistry()
	r.processor(Config{Registerer: reg})
	r.publish(0, pastWindow(0), winMs, wire.Counts{"m1": {"🔥": 3}})
	r.exact(timeout)
	r.publish(0, wire.WindowStart(math.MaxInt64, winMs), winMs, wire.Counts{"m2": {"🔥": 1}})
	delete(r.want, "m2") // dropped
	r.publish(0, wire.WindowStart(time.Now().UnixMilli(), winMs), winMs, wire.Counts{"m3": {"🔥": 7}})
	r.exact(timeout)
	if bad := gather(t, reg, "emostream_processor_partials_total", "kind", "bad"); bad != 1 {
		t.Errorf("partials_total{kind=\"bad\"} = %v, want 1", bad)
	}
}

// A swarm that cannot be encoded (here the processor's clock is past year
// 9999, so its published_at has no JSON form) is dropped, loudly, and its
// window's partials acknowledged, so a restart does not replay it: no
// retry can change it, and retrying it in the goroutine that owns every
// window stopped every match's swarms. The next window is handled too.
// (A session that starts while the window is open replays it, and drops
// it again: the metric may count a swarm more than once.)
func TestUnencodableSwarmIsDropped(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	reg := prometheus.NewRegistry()
	r.processor(Config{Registerer: reg, Now: func() time.Time { return time.Now().AddDate(8000, 0, 0) }})
	dropped := func() float64 {
		return gather(t, reg, "emostream_processor_publish_errors_total", "reason", "unencodable")
	}
	r.publish(0, pastWindow(0), winMs, wire.Counts{"m1": {"🔥": 3}, "m2": {"👏": 1}})
	r.waitAcked(1, "the partial of window 0")
	n := dropped()
	if n < 2 {
		t.Fatalf("publish_errors_total{reason=\"unencodable\"} = %v after window 0, want m1's and m2's swarms", n)
	}
	r.publish(0, pastWindow(1), winMs, wire.Counts{"m3": {"🔥": 7}})
	r.waitAcked(2, "the partial of window 1")
	if m := dropped(); m < n+1 {
		t.Errorf("publish_errors_total{reason=\"unencodable\"} = %v after window 1, want at least %v", m, n+1)
	}
}

// waitAcked waits until the processors' consumer has acknowledged every
// partial up to stream sequence seq: what.
func (r *rig) waitAcked(seq uint64, what string) {
	r.t.Helper()
	testenv.WaitFor(r.t, timeout, what+" acknowledged", func() bool {
		cons, err := r.js.Consumer(context.Background(), wire.PartialsStream, DefaultConsumer)
		if err != nil {
			return false
		}
		info, err := cons.Info(context.Background())
		return err == nil && info.AckFloor.Stream >= seq
	})
}

// gather sums the series of metric name in reg that have the labels
// given as name, value pairs.
func gather(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				if hasLabels(m, labels) {
					sum += value(m)
				}
			}
		}
	}
	return sum
}

// hasLabels reports whether m has every label of the name, value pairs.
func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == pairs[i] && l.GetValue() == pairs[i+1]
		}) {
			return false
		}
	}
	return true
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
