package processor

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// runRule feeds windows (one per 2 s from 0; nil: no window) through the
// rule as the processor does and returns the moments found, as
// "window:rule:emoji".
func runRule(r MomentRule, windows []map[string]int64) []string {
	r = r.withDefaults()
	const w = 2 * time.Second
	rt := newRecentTotals(r.slots(w))
	last := int64(math.MinInt64)
	var found []string
	for i, counts := range windows {
		if counts == nil {
			continue
		}
		var total int64
		for _, n := range counts {
			total += n
		}
		start := int64(i) * w.Milliseconds()
		ms := r.detect(rt, "m", start, counts, total, w, last)
		for _, m := range ms {
			found = append(found, fmt.Sprintf("%d:%s:%s", i, m.Rule, m.Emoji))
		}
		if len(ms) > 0 {
			last = start
		}
		rt.add(start, total, counts)
	}
	return found
}

// one is a window of totals of one emoji (-1: no window).
func one(totals []int64) []map[string]int64 {
	out := make([]map[string]int64, len(totals))
	for i, n := range totals {
		if n >= 0 {
			out[i] = map[string]int64{"🔥": n}
		}
	}
	return out
}

// mixed is n windows of three emojis around 300, 200 and 100, ±25%, and
// extra emoji counts at some windows.
func mixed(seed uint64, n int, extra map[int]map[string]int64) []map[string]int64 {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]map[string]int64, n)
	for i := range out {
		out[i] = map[string]int64{"🔥": 225 + rng.Int64N(151), "👏": 150 + rng.Int64N(101), "😂": 75 + rng.Int64N(51)}
		for e, v := range extra[i] {
			out[i][e] += v
		}
	}
	return out
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
	totalOnly := MomentRule{Share: 1}
	for _, tt := range []struct {
		name    string
		rule    MomentRule
		windows []map[string]int64
		want    []string
	}{
		{"noise only", MomentRule{}, one(base), nil},
		{"quiet noise under the floor", MomentRule{}, one(noise(2, 300, 20, 19)), nil},
		{"planted surges", totalOnly, one(plant(base, map[int]int64{60: 5000, 150: 2500, 151: 2600, 152: 3000, 290: 1600})),
			[]string{"60:total:", "150:total:", "290:total:"}},
		{"surge within the first baseline is not judged", MomentRule{}, one(plant(base, map[int]int64{10: 9000})), nil},
		{"cooldown: two surges 4s apart are one", totalOnly, one(plant(base, map[int]int64{100: 5000, 102: 5000, 110: 5000})),
			[]string{"100:total:", "110:total:"}},
		{"zero cooldown: each surge window", MomentRule{Cooldown: -1, Share: 1}, one(plant(base, map[int]int64{100: 5000, 101: 5000})),
			[]string{"100:total:", "101:total:"}},
		{"after silence, the floor decides", totalOnly, one(plant(make([]int64, 60), map[int]int64{40: 99, 50: 100})), []string{"50:total:"}},
		{"missing windows count as zero", totalOnly, one(append(append([]int64{200}, noise(3, 44, -1, 0)...), 150)), []string{"45:total:"}},
		{"a higher factor misses a smaller surge", MomentRule{Factor: 4}, one(plant(base, map[int]int64{60: 1800})), nil},
		{"a higher floor", MomentRule{Floor: 10_000}, one(plant(base, map[int]int64{60: 5000})), nil},
		{"mixed noise only", MomentRule{}, mixed(4, 300, nil), nil},
		{"one emoji's share jumps", MomentRule{}, mixed(5, 300, map[int]map[string]int64{100: {"🎉": 1000}, 200: {"😂": 900}}),
			[]string{"100:share:🎉", "200:share:😂"}},
		{"a share jump under the floor", MomentRule{Floor: 2000}, mixed(6, 300, map[int]map[string]int64{100: {"🎉": 1000}}), nil},
		{"a total surge that is also one emoji's", MomentRule{}, mixed(7, 300, map[int]map[string]int64{100: {"🎉": 5000}}),
			[]string{"100:total:", "100:share:🎉"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rule := tt.rule
			if rule.Cooldown < 0 {
				rule.Cooldown = time.Nanosecond
			}
			if got := runRule(rule, tt.windows); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got moments %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMomentRuleValidate(t *testing.T) {
	for _, r := range []MomentRule{{Factor: 0.5}, {Floor: -1}, {Baseline: time.Second}, {Baseline: 2 * time.Hour}} {
		if err := setting.First(ErrConfig, r.withDefaults().rules(2*time.Second)...); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}

// Through the pipeline: steady traffic with two planted surges of one
// emoji. Each is a moment by both rules (the total, and the emoji's share)
// in its window's swarm and on the match's moment subject, and no other
// window has one.
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
		got := ""
		for _, m := range sw.Moments {
			got += m.Rule + ":" + m.Emoji + " "
		}
		if want := map[bool]string{true: "total: share:🎉 "}[surges[i]]; got != want {
			t.Errorf("window %d (total %d): moments %q, want %q", i, sw.Total, got, want)
		}
	}
	nc, _ := r.nats.Connect()
	var stored []int64
	testenv.WaitFor(t, timeout, "both windows' moments stored", func() bool {
		stored = nil
		err := timeline.NewReader(nc, wire.TimelineStream, 0).Moments(context.Background(), "cup", 0, math.MaxInt64,
			func(m *wire.Moment) error { stored = append(stored, m.WindowStart.UnixMilli()); return nil })
		return err == nil && len(stored) == 4
	})
	if fmt.Sprint(stored) != fmt.Sprint([]int64{pastWindow(45), pastWindow(45), pastWindow(80), pastWindow(80)}) {
		t.Errorf("stored moments at %v, want two at window 45 and two at 80", stored)
	}
}
