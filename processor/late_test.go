package processor

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// lateAt is part with late counts of m1 🔥 from the earlier windows, by
// window index: the bridge counted them late.
func lateAt(p *wire.Partial, late map[int]int64) *wire.Partial {
	p.LateCounts = map[int64]wire.Counts{}
	for i, n := range late {
		p.LateCounts[w(i)] = wire.Counts{"m1": {"🔥": n}}
		p.Late += n
	}
	return p
}

// tallyAsDelivered merges the deliveries in order, over 2 partitions with
// deadline dl, and tallies m1 in each window as it closes.
func tallyAsDelivered(dl time.Duration, in []delivery) []tally {
	m := newMerger(testWindow, dl, 2)
	var out []tally
	for _, d := range in {
		m.add(d.p, d.seq, d.received, nil)
		for win, _ := m.next(d.received.Add(dl), true); win != nil; win, _ = m.next(d.received.Add(dl), true) {
			out = append(out, tallyOf(win, "m1", newMatchState(), nil))
		}
	}
	return out
}

// A swarm's late_windows name, for every count that reached the processor
// after its own window had closed, the window it was received in: records
// the bridge counted late by the window the bridge names, and a partial
// that is late itself by its own window (less its own late records).
func TestTallyLateWindows(t *testing.T) {
	const dl = 400 * time.Millisecond
	tests := []struct {
		name string
		in   []delivery
		want []map[int64]map[string]int64 // per closed window
	}{
		{"on time, nothing late", []delivery{{part(0, 1, 0, 9, 10), 1, end(1, 0)}},
			[]map[int64]map[string]int64{nil}},
		{"records the bridge counted late", []delivery{{lateAt(part(0, 2, 0, 9, 10), map[int]int64{0: 2, 1: 3}), 1, end(2, 0)}},
			[]map[int64]map[string]int64{{w(0): {"🔥": 2}, w(1): {"🔥": 3}}}},
		{"a late partial, with late records of its own", []delivery{
			{part(0, 1, 0, 0, 1), 1, end(1, 0)},                                            // closes window 1 with partition 1 missing
			{lateAt(part(1, 1, 0, 9, 10), map[int]int64{0: 4}), 2, end(1, dl+time.Second)}, // then partition 1's window 1
			{part(0, 2, 1, 1, 1), 3, end(2, 0)}, {part(1, 2, 10, 10, 1), 4, end(2, 0)}},
			[]map[int64]map[string]int64{nil, {w(0): {"🔥": 4}, w(1): {"🔥": 6}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []map[int64]map[string]int64
			for _, tl := range tallyAsDelivered(dl, tt.in) {
				got = append(got, tl.lateWindows)
				var sum int64
				for _, c := range tl.lateWindows {
					sum += c["🔥"]
				}
				if sum != tl.late {
					t.Errorf("late %d, late windows sum to %d", tl.late, sum)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("late windows %v, want %v", got, tt.want)
			}
		})
	}
}

// After a restart a window past its deadline waits, within the grace, for
// a partition not heard from yet or catching up, and only for it.
func TestMergerRestartGrace(t *testing.T) {
	const dl, grace = 400 * time.Millisecond, 10 * time.Second
	start := end(0, 0)
	tests := []struct {
		name  string
		heard map[int32]time.Duration // partition: received this long after start (stored after it)
		now   time.Time
		want  string
	}{
		{"partition 1 silent since the restart: waits", map[int32]time.Duration{0: 0}, end(0, dl), ""},
		{"partition 1 silent, grace over: deadline", map[int32]time.Duration{0: 0}, start.Add(grace), wire.ClosedByDeadline},
		{"partition 1 catching up: waits", map[int32]time.Duration{0: 0, 1: dl - 100*time.Millisecond}, end(0, dl), ""},
		{"partition 1 heard a while ago, behind: deadline", map[int32]time.Duration{0: 0, 1: -2 * testWindow}, end(0, 2*dl), wire.ClosedByDeadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(testWindow, dl, 2)
			m.started, m.grace = start, grace
			m.add(part(0, 0, 0, 9, 10), 1, start, nil)
			for p, d := range tt.heard {
				m.hear(p, start, start.Add(d))
			}
			win, rule := m.next(tt.now, true)
			if rule != tt.want || (win == nil) != (tt.want == "") {
				t.Fatalf("closed by %q, want %q", rule, tt.want)
			}
			if tt.want == "" && !m.nextDue(tt.now).After(tt.now) {
				t.Errorf("a waiting window is due again at once: %v", m.nextDue(tt.now))
			}
		})
	}
	m := newMerger(testWindow, dl, 2)
	m.started, m.grace = start, grace
	m.hear(1, start.Add(-2*heardSkew), start) // replayed from before the restart
	if _, ok := m.heard[1]; ok {
		t.Error("a partial stored before the restart counts as a sign of life")
	}
}

// Past the swarm's bound, a partial is held with the later ones of its
// partition for the match's next window; none is lost or counted twice,
// and every swarm stays within the bound.
func TestTallyHoldsPastTheBound(t *testing.T) {
	const parts = 4
	m := newMerger(testWindow, time.Second, parts)
	st, b := newMatchState(), newSwarmBound(4<<10, MomentRule{}.withDefaults())
	emoji := func(i int) string { return fmt.Sprintf("e%02d", i) + strings.Repeat("x", 40) }
	want, got := map[string]int64{}, map[string]int64{}
	next := map[int32]int64{}
	seq := uint64(0)
	for i := range 6 {
		for p := range int32(parts) {
			c := wire.Counts{}
			for j := range 10 { // 40 distinct emojis in all: far past 4 KiB in one window
				c.Add("m1", emoji(int(p)*10+j), int64(i+1))
				want[emoji(int(p)*10+j)] += int64(i + 1)
			}
			n := c.Total()
			seq++
			m.add(&wire.Partial{Partition: p, WindowStartMs: w(i), WindowMs: testWindow.Milliseconds(),
				FirstOffset: next[p], LastOffset: next[p] + n - 1, Counts: c}, seq, end(i, 0), nil)
			next[p] += n
		}
	}
	held := 0
	for i := 0; len(m.open) > 0; i++ {
		if i >= 6 { // the held partials' own windows: empty heartbeats let them close
			for p := range int32(parts) {
				seq++
				m.add(&wire.Partial{Partition: p, WindowStartMs: w(i), WindowMs: testWindow.Milliseconds(),
					FirstOffset: next[p], LastOffset: next[p] - 1}, seq, end(i, 0), nil)
			}
		}
		win, rule := m.next(end(i, 0), true)
		tl := tallyOf(win, "m1", st, b)
		held += len(tl.held)
		if len(tl.held) > 0 {
			m.foldMatch(win, "m1", tl.held)
		}
		sw := buildSwarm(win, "m1", tl, st, swarmParams{window: testWindow, threshold: 1000, closedBy: rule, now: end(i, 0)})
		data, _ := sw.Encode()
		if len(data) > b.max {
			t.Fatalf("window %d: swarm of %d bytes, bound %d", i, len(data), b.max)
		}
		for e, n := range sw.Counts {
			got[e] += n
		}
		st = stateOf(sw, uint64(i+1))
	}
	if held == 0 || !maps.Equal(got, want) {
		t.Errorf("%d held; counted %v, want %v", held, got, want)
	}
}

// The largest swarm with late windows fits DefaultMaxSwarmBytes: the
// longest match id, 64 emojis of the longest spelling, 256 partitions of
// the widest ids, every number at its widest, and each partition's
// partial late, holding the most late windows a partial may name (other
// ones for each partition), so each adds three late windows. Every
// swarm stays within the bound (the partials past it held for the next
// window), and every partial is counted once.
func TestWorstCaseLateSwarmFits(t *testing.T) {
	const parts, emojis = 256, 64
	match := strings.Repeat("m", wire.MaxMatchID)
	b := newSwarmBound(DefaultMaxSwarmBytes, MomentRule{}.withDefaults())
	m := newMerger(testWindow, time.Second, 0) // partition count unknown: windows close by deadline
	all := func(n int64) map[string]int64 {
		c := map[string]int64{}
		for i := range emojis {
			c[fmt.Sprintf("%02d", i)+strings.Repeat("🔥", (wire.MaxEmojiBytes-2)/4)] = n
		}
		return c
	}
	third := int64(math.MaxInt64 / 3)
	m.closed = w(10) // window 10 closed: its partials below arrive late
	seq := uint64(math.MaxUint64 - 2*parts)
	for p := range int32(parts) {
		seq++
		pt := &wire.Partial{Partition: math.MaxInt32 - p, WindowStartMs: w(10), WindowMs: 2000,
			FirstOffset: math.MaxInt64 - 2, LastOffset: math.MaxInt64 - 2, Counts: wire.Counts{match: all(3 * third)},
			LateCounts: map[int64]wire.Counts{w(-2 * int(p)): {match: all(third)}, w(-2*int(p) - 1): {match: all(third)}}}
		if err := pt.Validate(); err != nil || len(pt.LateCounts) != wire.MaxPartialLateWindows {
			t.Fatal(err)
		}
		m.add(pt, seq, end(10, time.Second), nil)
	}
	st := newMatchState()
	counted, windows, held := 0, 0, 0
	for i := 11; len(m.open) > 0 && i < 11+parts+2; i++ {
		win, rule := m.next(end(i, time.Second), true)
		if win == nil {
			t.Fatalf("window %d did not close", i)
		}
		tl := tallyOf(win, match, st, b)
		held += len(tl.held)
		if len(tl.held) > 0 {
			m.foldMatch(win, match, tl.held)
		}
		if len(tl.counts) == 0 {
			continue
		}
		sw := buildSwarm(win, match, tl, st, swarmParams{window: testWindow, threshold: 1, closedBy: rule, now: end(i, 0)})
		sw.Viewers, sw.Total, sw.Late, sw.Partitions = math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MinInt
		for _, rule := range []string{"total", "share", "share", "share"} {
			sw.Moments = append(sw.Moments, wire.Moment{MatchID: match, WindowStart: sw.WindowStart, WindowEnd: sw.WindowEnd,
				Emoji: strings.Repeat("🔥", wire.MaxEmojiBytes/4), Size: math.MaxInt64, Ratio: 12345678.91, Rule: rule})
		}
		data, err := sw.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > DefaultMaxSwarmBytes {
			t.Fatalf("window %d: swarm of %d bytes with %d partitions, over %d", i, len(data), len(sw.Partials), DefaultMaxSwarmBytes)
		}
		if windows++; len(sw.Partials) == parts || windows == 1 {
			t.Logf("swarm with every partition: %d bytes of %d, %d partials, %d late windows",
				len(data), DefaultMaxSwarmBytes, len(tl.entries), len(sw.LateWindows))
		}
		counted += len(tl.entries)
		st = stateOf(sw, uint64(i))
	}
	if counted != parts || held == 0 {
		t.Errorf("%d of %d partials counted over %d windows, %d held", counted, parts, windows, held)
	}
}

// A crash between a window record and its late record: the next processor
// to read the match's timeline back writes the late record from the
// window's swarm, once, and the timeline by named window is exact again.
func TestLateRecordRepairedAfterCrash(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	ctx := context.Background()
	w0, w2 := pastWindow(0), pastWindow(2)
	sw := &wire.Swarm{MatchID: "m1", WindowStart: time.UnixMilli(w2).UTC(), WindowEnd: time.UnixMilli(w2 + winMs).UTC(),
		Counts: map[string]int64{"🔥": 5}, Swarm: map[string]int64{}, Carry: map[string]int64{"🔥": 5}, Total: 5,
		ClosedBy: wire.ClosedByAllPartitions, PublishedAt: time.Now(), Late: 2,
		LateWindows: map[int64]map[string]int64{w0: {"🔥": 2}}, Partials: map[int32]uint64{0: 0}}
	data, _ := sw.Encode()
	ack, err := r.js.Publish(ctx, wire.SwarmSubject("m1"), data, jetstream.WithMsgID(sw.MsgID()))
	if err != nil {
		t.Fatal(err)
	}
	rec := wire.TimelineRecord{Start: w2, Counts: sw.Counts, Total: 5, Swarm: ack.Sequence, Late: 2}
	if _, err := r.js.Publish(ctx, wire.TimelineSubject("m1", wire.TimelineWindows), mustJSON(rec)); err != nil {
		t.Fatal(err)
	}
	// The processor died here: no late record.
	for i := range 2 { // the second processor finds the late record and writes none
		cancel, done, _ := r.processor(Config{})
		r.publish(0, pastWindow(3+i), winMs, counts1("m1"))
		arrival := map[int64]int64{w2: 5, pastWindow(3): 1, pastWindow(4): int64(i)}
		named := map[int64]int64{w0: 2, w2: 3, pastWindow(3): 1, pastWindow(4): int64(i)}
		if i == 0 {
			delete(arrival, pastWindow(4))
			delete(named, pastWindow(4))
		}
		r.wantTimeline("m1", 2*time.Second, map[timeline.View]map[int64]int64{timeline.ByArrival: arrival, timeline.ByNamed: named})
		cancel()
		<-done
	}
	if n := r.count(wire.TimelineSubject("m1", wire.TimelineLate)); n != 1 {
		t.Errorf("%d late records, want 1", n)
	}
}

// A crash between a window record and its video record: the next
// processor to read the match's timeline back writes the video record
// from the window's swarm, once, and the program-time view is exact again.
func TestVideoRecordRepairedAfterCrash(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	ctx := context.Background()
	w0, w2 := pastWindow(0), pastWindow(2)
	sw := &wire.Swarm{MatchID: "m1", WindowStart: time.UnixMilli(w2).UTC(), WindowEnd: time.UnixMilli(w2 + winMs).UTC(),
		Counts: map[string]int64{"🔥": 5}, Swarm: map[string]int64{}, Carry: map[string]int64{"🔥": 5}, Total: 5,
		ClosedBy: wire.ClosedByAllPartitions, PublishedAt: time.Now(),
		VideoWindows: map[int64]map[string]int64{w0: {"🔥": 2}}, Partials: map[int32]uint64{0: 0}}
	data, _ := sw.Encode()
	ack, err := r.js.Publish(ctx, wire.SwarmSubject("m1"), data, jetstream.WithMsgID(sw.MsgID()))
	if err != nil {
		t.Fatal(err)
	}
	rec := wire.TimelineRecord{Start: w2, Counts: sw.Counts, Total: 5, Swarm: ack.Sequence, Video: 2}
	if _, err := r.js.Publish(ctx, wire.TimelineSubject("m1", wire.TimelineWindows), mustJSON(rec)); err != nil {
		t.Fatal(err)
	}
	// The processor died here: no video record.
	for i := range 2 { // the second processor finds the video record and writes none
		cancel, done, _ := r.processor(Config{})
		r.publish(0, pastWindow(3+i), winMs, counts1("m1"))
		arrival := map[int64]int64{w2: 5, pastWindow(3): 1, pastWindow(4): int64(i)}
		video := map[int64]int64{w0: 2, w2: 3, pastWindow(3): 1, pastWindow(4): int64(i)}
		if i == 0 {
			delete(arrival, pastWindow(4))
			delete(video, pastWindow(4))
		}
		r.wantTimeline("m1", 2*time.Second, map[timeline.View]map[int64]int64{
			timeline.ByArrival: arrival, timeline.ByNamed: arrival, timeline.ByVideo: video})
		cancel()
		<-done
	}
	if n := r.count(wire.TimelineSubject("m1", wire.TimelineVideo)); n != 1 {
		t.Errorf("%d video records, want 1", n)
	}
}

// videoAt is p with video counts of m1 🔥 by window index.
func videoAt(p *wire.Partial, video map[int]int64) *wire.Partial {
	p.VideoCounts = map[int64]wire.Counts{}
	for i, n := range video {
		p.VideoCounts[w(i)] = wire.Counts{"m1": {"🔥": n}}
	}
	return p
}

// A swarm's video_windows name, for every count that the program-time
// view puts in another window, that window: the partial's video counts
// (but those of the swarm's own window), and the rest of a late partial
// in its own window.
func TestTallyVideoWindows(t *testing.T) {
	const dl = 400 * time.Millisecond
	tests := []struct {
		name string
		in   []delivery
		want []map[int64]map[string]int64 // per closed window
	}{
		{"on time, no video", []delivery{{part(0, 1, 0, 9, 10), 1, end(1, 0)}},
			[]map[int64]map[string]int64{nil}},
		{"on time, video counts", []delivery{{videoAt(part(0, 2, 0, 9, 10), map[int]int64{0: 2, 3: 1}), 1, end(2, 0)}},
			[]map[int64]map[string]int64{{w(0): {"🔥": 2}, w(3): {"🔥": 1}}}},
		{"a late partial, video counts into the carrying window", []delivery{
			{part(0, 1, 0, 0, 1), 1, end(1, 0)},                                                   // closes window 1 with partition 1 missing
			{videoAt(part(1, 1, 0, 9, 10), map[int]int64{0: 3, 2: 4}), 2, end(1, dl+time.Second)}, // then partition 1's window 1
			{part(0, 2, 1, 1, 1), 3, end(2, 0)}, {part(1, 2, 10, 10, 1), 4, end(2, 0)}},
			// window 2 carries the late partial: 3 in window 0, 4 in its own, the other 3 in window 1
			[]map[int64]map[string]int64{nil, {w(0): {"🔥": 3}, w(1): {"🔥": 3}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []map[int64]map[string]int64
			for _, tl := range tallyAsDelivered(dl, tt.in) {
				got = append(got, tl.videoWindows)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("video windows %v, want %v", got, tt.want)
			}
		})
	}
}

// A swarm's first partial, over the bound with its program-time moves
// (video_ts values spread over many windows), is taken without them: the
// swarm stays within its bound and counts every event; those moves are
// counted as dropped. A later partial that would pass the bound with its
// moves is held for the next window as any other.
func TestTallyDropsVideoPastTheBound(t *testing.T) {
	m := newMerger(testWindow, time.Second, 2)
	st, b := newMatchState(), newSwarmBound(2<<10, MomentRule{Disable: true})
	spread := func(p *wire.Partial) *wire.Partial {
		p.VideoCounts = map[int64]wire.Counts{}
		for i := range 30 { // 30 windows of moves: about 1.5 KiB
			p.VideoCounts[w(10-i-1)] = wire.Counts{"m1": {"🔥": 1}}
		}
		return p
	}
	m.add(spread(part(0, 10, 0, 99, 100)), 1, end(10, 0), nil)
	m.add(spread(part(1, 10, 0, 99, 100)), 2, end(10, 0), nil)
	win, rule := m.next(end(10, 0), true)
	tl := tallyOf(win, "m1", st, b)
	sw := buildSwarm(win, "m1", tl, st, swarmParams{window: testWindow, threshold: 1000, closedBy: rule, now: end(10, 0)})
	data, _ := sw.Encode()
	if len(data) > b.max || sw.Counts["🔥"] != 100 || len(tl.held) != 1 {
		t.Fatalf("swarm of %d bytes (bound %d), counts %v, %d held, %d moves dropped, video windows %v",
			len(data), b.max, sw.Counts, len(tl.held), tl.videoDropped, sw.VideoWindows)
	}
	small := newSwarmBound(1<<10, MomentRule{Disable: true}) // not even the first one's moves fit
	tl = tallyOf(win, "m1", newMatchState(), small)
	sw = buildSwarm(win, "m1", tl, newMatchState(), swarmParams{window: testWindow, threshold: 1000, closedBy: rule, now: end(10, 0)})
	if data, _ := sw.Encode(); len(data) > small.max {
		t.Errorf("swarm of %d bytes, bound %d", len(data), small.max)
	}
	if tl.videoDropped != 30 || len(tl.videoWindows) != 0 || tl.counts["🔥"] != 100 {
		t.Errorf("with a 1 KiB bound: %d moves dropped, video windows %v, counts %v; want 30, none, 100", tl.videoDropped, tl.videoWindows, tl.counts)
	}
}
