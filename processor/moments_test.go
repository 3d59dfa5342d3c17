package processor

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// run feeds totals (one per 2s window from 0; -1: no window) through the
// rule as the processor does and returns the windows found.
func runRule(r MomentRule, totals []int64) []int {
	r = r.withDefaults()
	const w = 2 * time.Second
	rt := newRecentTotals(r.slots(w))
	last := int64(math.MinInt64)
	var found []int
	for i, total := range totals {
		if total < 0 {
			continue
		}
		start := int64(i) * w.Milliseconds()
		if _, ok := r.detect(rt, "m", start, total, w, last); ok {
			found = append(found, i)
			last = start
		}
		rt.add(start, total, w.Milliseconds())
	}
	return found
}

// noise is n windows of steady traffic around level, ±spread.
func noise(seed uint64, n int, level, spread int64) []int64 {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]int64, n)
	for i := range out {
		out[i] = level - spread + rng.Int64N(2*spread+1)
	}
	return out
}

func plant(totals []int64, at map[int]int64) []int64 {
	out := append([]int64(nil), totals...)
	for i, v := range at {
		out[i] = v
	}
	return out
}

func TestMomentRule(t *testing.T) {
	base := noise(1, 300, 500, 200) // 10 minutes, 300..700 a window
	for _, tt := range []struct {
		name   string
		rule   MomentRule
		totals []int64
		want   []int
	}{
		{"noise only", MomentRule{}, base, nil},
		{"quiet noise under the floor", MomentRule{}, noise(2, 300, 20, 19), nil},
		{"planted surges", MomentRule{}, plant(base, map[int]int64{60: 5000, 150: 2500, 151: 2600, 152: 3000, 290: 1600}), []int{60, 150, 290}},
		{"surge within the first baseline is not judged", MomentRule{}, plant(base, map[int]int64{10: 9000}), nil},
		{"cooldown: two surges 4s apart are one", MomentRule{}, plant(base, map[int]int64{100: 5000, 102: 5000, 110: 5000}), []int{100, 110}},
		{"zero cooldown: each surge window", MomentRule{Cooldown: -1}, plant(base, map[int]int64{100: 5000, 101: 5000}), []int{100, 101}},
		{"after silence, the floor decides", MomentRule{}, plant(make([]int64, 60), map[int]int64{40: 99, 50: 100}), []int{50}},
		{"missing windows count as zero", MomentRule{}, append(append([]int64{200}, noise(3, 44, -1, 0)...), 150), []int{45}},
		{"a higher factor misses a smaller surge", MomentRule{Factor: 4}, plant(base, map[int]int64{60: 1800}), nil},
		{"a higher floor", MomentRule{Floor: 10_000}, plant(base, map[int]int64{60: 5000}), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rule := tt.rule
			if rule.Cooldown < 0 {
				rule.Cooldown = time.Nanosecond
			}
			got := runRule(rule, tt.totals)
			if len(got) != len(tt.want) {
				t.Fatalf("got moments at %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got moments at %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestMomentRuleValidate(t *testing.T) {
	for _, r := range []MomentRule{{Factor: 0.5}, {Floor: -1}, {Baseline: time.Second}, {Baseline: 2 * time.Hour}} {
		if err := r.withDefaults().validate(2 * time.Second); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}

// Through the pipeline: steady traffic with two planted surges. Each surge
// is a moment in its window's swarm and on the match's moment subject,
// and no other window is.
func TestMomentsThroughThePipeline(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	r.processor(Config{})
	rng := rand.New(rand.NewPCG(9, 10))
	surges := map[int]bool{45: true, 80: true}
	for i := range 100 {
		for p := range int32(2) {
			c := wire.Counts{}
			c.Add("cup", "🔥", 200+rng.Int64N(100))
			c.Add("cup", "👏", 50+rng.Int64N(20))
			if surges[i] {
				c.Add("cup", "🎉", 2000)
			}
			r.publish(p, pastWindow(i), winMs, c)
		}
	}
	r.exact(timeout)
	for i := range 100 {
		sw := r.viewer.swarm("cup", pastWindow(i))
		if got := len(sw.Moments) == 1; got != surges[i] {
			t.Errorf("window %d (total %d): moments %+v, want a moment: %v", i, sw.Total, sw.Moments, surges[i])
		}
	}
	nc, _ := r.nats.Connect()
	var stored []int64
	testenv.WaitFor(t, timeout, "both moments stored", func() bool {
		stored = nil
		err := timeline.NewReader(nc, wire.TimelineStream, 0).Moments(context.Background(), "cup", 0, math.MaxInt64,
			func(m *wire.Moment) error { stored = append(stored, m.WindowStart.UnixMilli()); return nil })
		return err == nil && len(stored) == 2
	})
	if stored[0] != pastWindow(45) || stored[1] != pastWindow(80) {
		t.Errorf("stored moments at %v, want windows 45 and 80", stored)
	}
}
