package timeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// event is n reactions of emoji received in window named and carried by
// the swarm of window carried (later than named when they came late),
// with a video_ts in window video (0: none).
type event struct {
	named, carried int64
	emoji          string
	n              int64
	video          int64
}

// programWindow is e's window by program time: its video_ts's, else the
// window it was received in.
func (e event) programWindow() int64 {
	if e.video != 0 {
		return e.video
	}
	return e.named
}

// A match's records as the processor stores them, with late counts (into
// a rolled-up minute, into a window without a record of its own, within
// one step, and before the first record kept): each view of every step
// size equals the events summed by that view, for every range.
func TestStepsByView(t *testing.T) {
	env := testenv.StartStreams(t)
	ctx := context.Background()
	t0 := wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), (5 * time.Minute).Milliseconds())
	win := func(i int) int64 { return t0 + int64(i)*2000 }
	var events []event
	for i := range 45 { // 90 s: the first minute rolled up
		if i != 3 { // every event of window 3 came late
			events = append(events, event{win(i), win(i), "🔥", int64(i + 1), 0})
		}
	}
	events = append(events,
		event{win(3), win(4), "👏", 5, 0},          // into a window with no record, same minute
		event{win(3), win(31), "🔥", 6, 0},         // into the rolled-up minute
		event{win(28), win(31), "👏", 7, 0},        // likewise, from another window
		event{win(29), win(40), "😂", 8, 0},        // an emoji the window did not have
		event{win(33), win(34), "🔥", 9, 0},        // within the open minute
		event{win(-5), win(32), "🔥", 10, 0},       // before the match's first window record
		event{win(-9), win(-2), "👏", 11, 0},       // carried by a window whose record the stream dropped
		event{win(40), win(40), "🔥", 12, win(20)}, // seen 40 s behind live: into the rolled-up minute
		event{win(30), win(30), "👏", 13, win(31)}, // a video_ts ahead of its window: into the next
		event{win(10), win(12), "😂", 14, win(5)},  // late, with a video_ts before its named window
		event{win(2), win(2), "🔥", 15, win(-20)},  // before the match's first window record
		event{win(8), win(8), "👏", 16, win(8)},    // in its own window
	)
	store(t, env, "m", events, win(0))
	for _, tt := range []struct{ from, to int64 }{{win(0), win(60)}, {win(3), win(34)}, {win(31), win(45)}, {win(-30), win(4)}} {
		for _, step := range []time.Duration{2 * time.Second, 10 * time.Second, time.Minute, 5 * time.Minute} {
			for _, by := range []timeline.View{timeline.ByNamed, timeline.ByArrival, timeline.ByVideo, ""} {
				ms := step.Milliseconds()
				q := timeline.Query{Match: "m", Step: step, From: wire.WindowStart(tt.from, ms), To: wire.WindowStart(tt.to+ms-1, ms), By: by}
				t.Run(fmt.Sprintf("%v/%s/%d-%d", step, by, (q.From-t0)/1000, (q.To-t0)/1000), func(t *testing.T) {
					got, last := map[int64]map[string]int64{}, int64(-1<<63)
					err := timeline.NewReader(env.NC, wire.TimelineStream, 0).Steps(ctx, q, func(s timeline.Step) error {
						if s.Start <= last {
							t.Errorf("step %d after %d", s.Start, last)
						}
						var total int64
						for _, n := range s.Counts {
							total += n
						}
						if total != s.Total {
							t.Errorf("step %d: total %d, counts sum to %d", s.Start, s.Total, total)
						}
						last, got[s.Start] = s.Start, s.Counts
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if want := sumBy(events, q, win(0)); !maps.EqualFunc(got, want, maps.Equal) {
						t.Errorf("got  %v\nwant %v", got, want)
					}
				})
			}
		}
	}
}

// sumBy is what q should answer for events: by the named window, by the
// carrying one (ByArrival) or by program time (ByVideo). Events carried before covered (the
// first window record kept) are gone.
func sumBy(events []event, q timeline.Query, covered int64) map[int64]map[string]int64 {
	out := map[int64]map[string]int64{}
	for _, e := range events {
		if e.carried < covered {
			continue
		}
		w := e.named
		switch q.By {
		case timeline.ByArrival:
			w = e.carried
		case timeline.ByVideo:
			w = e.programWindow()
		}
		s := wire.WindowStart(w, q.Step.Milliseconds())
		if s < q.From || s >= q.To {
			continue
		}
		if out[s] == nil {
			out[s] = map[string]int64{}
		}
		out[s][e.emoji] += e.n
	}
	return out
}

// store writes match's timeline as the processor would for events: per
// carrying window its window record, and its late and video records after
// it; each
// minute's rollup before the first record of the next. The window records
// of windows before dropBefore are left out, as the stream drops the
// oldest.
func store(t *testing.T, env *testenv.Streams, match string, events []event, dropBefore int64) {
	t.Helper()
	ctx := context.Background()
	put := func(kind string, v any, id string) uint64 {
		b, _ := json.Marshal(v)
		ack, err := env.JS.Publish(ctx, wire.TimelineSubject(match, kind), b, jetstream.WithMsgID(match+"/"+kind+"/"+id))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	byWindow := map[int64][]event{}
	var windows []int64
	for _, e := range events {
		if byWindow[e.carried] == nil {
			windows = append(windows, e.carried)
		}
		byWindow[e.carried] = append(byWindow[e.carried], e)
	}
	minute := wire.WindowStart(windows[0], 60_000)
	rollup := wire.TimelineRecord{Start: minute, Counts: map[string]int64{}}
	for _, w := range sortedKeys(byWindow) {
		if wire.WindowStart(w, 60_000) != minute && rollup.Last > 0 {
			put("1m", rollup, fmt.Sprint(minute))
			minute, rollup = wire.WindowStart(w, 60_000), wire.TimelineRecord{Counts: map[string]int64{}}
			rollup.Start = minute
		}
		rec := wire.TimelineRecord{Start: w, Counts: map[string]int64{}, Swarm: uint64(w)}
		late := wire.LateRecord{Start: w, Swarm: uint64(w), Windows: map[int64]map[string]int64{}}
		video := wire.LateRecord{Start: w, Swarm: uint64(w), Windows: map[int64]map[string]int64{}}
		for _, e := range byWindow[w] {
			rec.Counts[e.emoji] += e.n
			rec.Total += e.n
			if pw := e.programWindow(); pw != w {
				rec.Video += e.n
				if video.Windows[pw] == nil {
					video.Windows[pw] = map[string]int64{}
				}
				video.Windows[pw][e.emoji] += e.n
			}
			if e.named != w {
				rec.Late += e.n
				if late.Windows[e.named] == nil {
					late.Windows[e.named] = map[string]int64{}
				}
				late.Windows[e.named][e.emoji] += e.n
			}
		}
		if w < dropBefore {
			put(wire.TimelineLate, late, fmt.Sprint(w))
			put(wire.TimelineVideo, video, fmt.Sprint(w))
			continue
		}
		seq := put(wire.TimelineWindows, rec, fmt.Sprint(w))
		if rollup.First == 0 {
			rollup.First = seq
		}
		rollup.Last = seq
		for e, n := range rec.Counts {
			rollup.Counts[e] += n
		}
		rollup.Total += rec.Total
		if rec.Late > 0 {
			put(wire.TimelineLate, late, fmt.Sprint(w))
		}
		if rec.Video > 0 {
			put(wire.TimelineVideo, video, fmt.Sprint(w))
		}
	}
}

func sortedKeys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
