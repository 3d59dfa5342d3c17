package capacity

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/edge"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// The model's copies of the code's defaults stay equal to them.
func TestDefaultsMatchTheCode(t *testing.T) {
	if EdgeMaxConnections != edge.DefaultMaxConnections {
		t.Errorf("EdgeMaxConnections %d, edge.DefaultMaxConnections %d", EdgeMaxConnections, edge.DefaultMaxConnections)
	}
	if Emojis != len(wire.DefaultEmojis) {
		t.Errorf("Emojis %d, wire.DefaultEmojis has %d", Emojis, len(wire.DefaultEmojis))
	}
	if Window != wire.DefaultWindow {
		t.Errorf("Window %v, wire.DefaultWindow %v", Window, wire.DefaultWindow)
	}
	if UserRate != ingest.DefaultUserRate {
		t.Errorf("UserRate %d, ingest.DefaultUserRate %d", UserRate, ingest.DefaultUserRate)
	}
}

// A load outside the model's bounds is refused with ErrLoad, naming the
// field at fault; zero fields take the defaults.
func TestLoadBounds(t *testing.T) {
	tests := []struct {
		name  string
		l     Load
		field string // the setting.Error's; "" for a load that is planned
	}{
		{"defaults", Load{Viewers: 4, Reactions: 0}, ""},
		{"fewer viewers than the default regions", Load{Viewers: 3}, "Regions"},
		{"fewer viewers than regions", Load{Viewers: 3, Regions: 5}, "Regions"},
		{"a viewer a region", Load{Viewers: 5, Regions: 5}, ""},
		{"one viewer", Load{Viewers: 1, Regions: 1}, ""},
		{"every viewer at the per-user rate", Load{Viewers: 10, Reactions: 10 * UserRate}, ""},
		{"more reactions than the viewers may send", Load{Viewers: 10, Reactions: 10*UserRate + 1}, "Reactions"},
		{"reactions of one viewer at the bound", Load{Viewers: 1, Regions: 1, Reactions: MaxReactions}, "Reactions"},
		{"no viewers", Load{Viewers: 0, Reactions: 1}, "Viewers"},
		{"NaN viewers", Load{Viewers: math.NaN()}, "Viewers"},
		{"infinite reactions", Load{Viewers: 4, Reactions: math.Inf(1)}, "Reactions"},
		{"NaN reactions", Load{Viewers: 4, Reactions: math.NaN()}, "Reactions"},
		{"negative reactions", Load{Viewers: 4, Reactions: -1}, "Reactions"},
		{"too many viewers", Load{Viewers: 2e10}, "Viewers"},
		{"negative regions", Load{Viewers: 4, Regions: -1}, "Regions"},
		{"too many regions", Load{Viewers: MaxViewers, Regions: MaxRegions + 1}, "Regions"},
		{"too many matches", Load{Viewers: 4, Matches: MaxMatches + 1}, "Matches"},
		{"batch under 1", Load{Viewers: 4, Batch: 0.5}, "Batch"},
		{"batch over the API's", Load{Viewers: 4, Batch: 1001}, "Batch"},
		{"negative video spread", Load{Viewers: 4, VideoSpread: -time.Second}, "VideoSpread"},
		{"video spread past the furthest video_ts", Load{Viewers: 4, VideoSpread: wire.MaxVideoLag + time.Millisecond}, "VideoSpread"},
		{"video spread of a minute", Load{Viewers: 4, VideoSpread: wire.MaxVideoLag}, ""},
		{"year-9999 sized", Load{Viewers: MaxViewers, Reactions: MaxReactions, Regions: MaxRegions, Matches: MaxMatches, Batch: MaxBatch}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(tt.l)
			if (err == nil) != (tt.field == "") {
				t.Fatalf("NewPlan(%+v) = %v, want an error naming %q", tt.l, err, tt.field)
			}
			if err == nil {
				return
			}
			var se *setting.Error
			if !errors.Is(err, ErrLoad) || !errors.As(err, &se) || se.Name != tt.field {
				t.Errorf("NewPlan(%+v) = %v, want ErrLoad naming %s", tt.l, err, tt.field)
			}
		})
	}
	l, _ := Load{Viewers: 4}.withDefaults()
	if l.Regions != DefaultRegions || l.Matches != DefaultMatches || l.Batch != DefaultBatch {
		t.Errorf("defaults: got %+v", l)
	}
}

// Size keeps every scaled-out tier at or under TargetUtil, the fixed ones
// at their counts, and grows with the load.
func TestSizeKeepsTargetUtil(t *testing.T) {
	for _, l := range []Load{
		{Viewers: 1, Reactions: 0, Regions: 1},
		{Viewers: 50_000, Reactions: 1_000},
		{Viewers: 1e6, Reactions: 1e5, Regions: 1, Batch: 10},
		{Viewers: 50e6, Reactions: 1e6},
		{Viewers: 5e8, Reactions: 1e7, Matches: 100},
		// Loads whose brokers, bridges and partitions went round a cycle
		// while Size worked each count out afresh, given the viewers their
		// reactions need (UserRate): the second still does.
		{Viewers: 116_667, Reactions: 2.33328281610236e+06, Regions: 800, Matches: 4448, VideoSpread: 11902581273},
		{Viewers: 126_349, Reactions: 2.5269794037648547e+06, Regions: 356, Matches: 2506, VideoSpread: 36810588711},
	} {
		d, err := Size(l)
		if err != nil {
			t.Fatal(err)
		}
		uses, _ := Evaluate(l, d)
		for i, u := range uses {
			if !tiers[i].fixed && u.Util > TargetUtil+1e-9 {
				t.Errorf("%+v: %s at %.3f of its %s, over %v", l, u.Tier, u.Util, u.Resource, TargetUtil)
			}
		}
		if d.Processors != Processors || d.HubMembers != HubMembers || d.Brokers < MinBrokers || d.Ingest < MinIngest {
			t.Errorf("%+v: fixed or least counts broken: %+v", l, d)
		}
		if d.Partitions%d.Brokers != 0 || d.Partitions < d.Bridges {
			t.Errorf("%+v: %d partitions for %d brokers and %d bridges", l, d.Partitions, d.Brokers, d.Bridges)
		}
		if more, _ := Size(l.Times(10)); more.Edges < d.Edges || more.Ingest < d.Ingest || more.Brokers < d.Brokers {
			t.Errorf("%+v: ten times the load needs fewer machines: %+v, then %+v", l, d, more)
		}
	}
}

// Worked cases, checked by hand from the constants: the edges are bound by
// connections (TargetUtil of EdgeMaxConnections each), the partitions by
// Kafka's 10 MB/s guidance, the ingest machines by CPU.
func TestSizeWorked(t *testing.T) {
	tests := []struct {
		l                  Load
		edges, partitions  int
		ingestAtLeast      int
		resourceOfTheEdges string
	}{
		{Load{Viewers: 600_000, Reactions: 0, Regions: 1}, 10, 3, MinIngest, "connections"},
		{Load{Viewers: 600_001, Reactions: 0, Regions: 1}, 11, 3, MinIngest, "connections"},
		{Load{Viewers: 1_200_000, Reactions: 0, Regions: 2}, 10, 3, MinIngest, "connections"},
		{Load{Viewers: 50_000, Reactions: 1e6, Regions: 1}, 1, 0, 2, ""},
	}
	for _, tt := range tests {
		d, err := Size(tt.l)
		if err != nil {
			t.Fatal(err)
		}
		if tt.partitions == 0 { // the produce rate's: records of the planned batching at 10 MB/s a partition
			l, _ := tt.l.withDefaults()
			tt.partitions = ceilDiv(flows(l, d).kafkaBytes, PartitionBytesPerSec)
		}
		if d.Edges != tt.edges || d.Partitions < tt.partitions || d.Partitions >= tt.partitions+d.Brokers || d.Ingest < tt.ingestAtLeast {
			t.Errorf("%+v: got edges %d, partitions %d, ingest %d; want %d, %d (rounded up to %d brokers), ≥ %d",
				tt.l, d.Edges, d.Partitions, d.Ingest, tt.edges, tt.partitions, d.Brokers, tt.ingestAtLeast)
		}
		uses, _ := Evaluate(tt.l, d)
		if tt.resourceOfTheEdges != "" && uses[6].Resource != tt.resourceOfTheEdges {
			t.Errorf("%+v: edges bound by %s, want %s", tt.l, uses[6].Resource, tt.resourceOfTheEdges)
		}
	}
}

// Every viewer's swarm carries an offset and a partial sequence per
// partition: a frame grows with the partitions, by the same bytes each.
func TestSizes(t *testing.T) {
	a, b, c := SwarmBytes(10, 0), SwarmBytes(20, 0), SwarmBytes(30, 0)
	if b-a != c-b || b <= a {
		t.Errorf("swarm bytes %d, %d, %d for 10, 20, 30 partitions: want even growth", a, b, c)
	}
	if f := FrameBytes(8, 0); f <= SwarmBytes(8, 0) || f > SwarmBytes(8, 0)+64 {
		t.Errorf("frame %d for a swarm of %d", f, SwarmBytes(8, 0))
	}
	value := float64(len(recordValue.AppendJSON(nil)) + len(recordValue.UserID))
	if got, want := RecordBytes(1), value+KafkaRecordOverheadBytes+KafkaBatchOverheadBytes; got != want {
		t.Errorf("RecordBytes(1) %v, want %v", got, want)
	}
	if got, want := RecordBytes(61), value+KafkaRecordOverheadBytes+1; got != want {
		t.Errorf("RecordBytes(61) %v, want %v", got, want)
	}
	if PartialBytes(10, 0) <= PartialBytes(1, 0) {
		t.Error("a partial of more matches is not larger")
	}
	// Viewers behind live add video_windows to every swarm (and
	// video_counts to every partial): every emoji in each window of the
	// spread, at least what the program-time benchmark measured with
	// reactions spread 10, 30 and 60 s behind live (0.8, 2.1 and 4.2 KB,
	// docs/benchmarks.md) and not twice that.
	last := 0
	for _, tt := range []struct {
		spread   time.Duration
		windows  int
		measured int
	}{{10 * time.Second, 5, 800}, {30 * time.Second, 15, 2100}, {60 * time.Second, 30, 4200}} {
		l := Load{VideoSpread: tt.spread}
		if got := l.videoWindows(); got != tt.windows {
			t.Errorf("%v behind live: %d video windows, want %d", tt.spread, got, tt.windows)
		}
		more := SwarmBytes(8, tt.windows) - SwarmBytes(8, 0)
		if more < tt.measured || more > 2*tt.measured || more <= last {
			t.Errorf("%v behind live: the swarm grows by %d bytes, measured %d", tt.spread, more, tt.measured)
		}
		last = more
		if PartialBytes(10, tt.windows) <= PartialBytes(10, 0) {
			t.Errorf("%v behind live: the partial does not grow", tt.spread)
		}
	}
	if (Load{VideoSpread: 2001 * time.Millisecond}).videoWindows() != 2 || (Load{}).videoWindows() != 0 {
		t.Error("a spread is not rounded up to whole windows")
	}
	if WireBytes(1448) != 1448+52+29 || WireBytes(1449) != 1449+104+29 {
		t.Errorf("WireBytes: %v, %v", WireBytes(1448), WireBytes(1449))
	}
}

// Each step is ten times the one before, and its breaking tier is the
// fullest at ten times its load on its own deployment.
func TestSteps(t *testing.T) {
	steps, err := Steps(Load{Viewers: 50_000, Reactions: 1_000}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 {
		t.Fatalf("%d steps", len(steps))
	}
	for i, s := range steps {
		if want := 50_000 * math.Pow(10, float64(i)); math.Abs(s.Plan.Load.Viewers-want) > 1e-6*want {
			t.Errorf("step %d: %v viewers, want %v", i, s.Plan.Load.Viewers, want)
		}
		uses, _ := Evaluate(s.Next, s.Plan.Deployment)
		for _, u := range uses {
			if u.Util > s.First.Util {
				t.Errorf("step %d: %s at %.2f is fuller than the named %s at %.2f", i, u.Tier, u.Util, s.First.Tier, s.First.Util)
			}
		}
		if s.First.Util <= TargetUtil {
			t.Errorf("step %d: ten times the load leaves every tier at or under %v", i, TargetUtil)
		}
	}
}

// A load near the bounds has its steps too: ten times it, past the bounds,
// is what the last step's deployment is loaded with, not a load to plan.
func TestStepsAtTheBounds(t *testing.T) {
	for _, l := range []Load{
		{Viewers: MaxViewers, Reactions: MaxReactions},
		{Viewers: 2e9, Reactions: 1e6},
		{Viewers: 50e6, Reactions: 5e8},
	} {
		steps, err := Steps(l.Times(0.01), 3)
		if err != nil {
			t.Fatalf("Steps up to %+v: %v", l, err)
		}
		if last := steps[len(steps)-1]; last.First.Util <= TargetUtil || math.IsNaN(last.First.Util) {
			t.Errorf("Steps up to %+v: at ten times, the fullest tier %+v", l, last.First)
		}
	}
}

// A plan states a record's size however few reactions it carries: one
// record a produce request, its batch's header its own.
func TestPlanRecordBytes(t *testing.T) {
	for _, reactions := range []float64{0, 0.5, 1} {
		p, err := NewPlan(Load{Viewers: 1000, Reactions: reactions})
		if err != nil {
			t.Fatal(err)
		}
		if want := RecordBytes(1); p.RecordBytes != want {
			t.Errorf("%v reactions/s: %v bytes a record, want %v", reactions, p.RecordBytes, want)
		}
	}
}

// StepsTo ends at the load itself, however many steps are asked for, and
// leaves out the steps under one viewer a region; scaling the load down and up
// again in floating point (math.Pow(10, 1-n), then Steps) can pass the
// bounds it started within.
func TestStepsTo(t *testing.T) {
	tests := []struct {
		l    Load
		n    int
		want []float64 // viewers of each step
	}{
		{Load{Viewers: MaxViewers, Reactions: 1e6}, 6, []float64{1e5, 1e6, 1e7, 1e8, 1e9, 1e10}},
		{Load{Viewers: 1, Reactions: 0, Regions: 1}, 4, []float64{1}},
		{Load{Viewers: 150, Reactions: 10, Regions: 1}, 4, []float64{1.5, 15, 150}},
		{Load{Viewers: 150, Reactions: 10}, 4, []float64{15, 150}},
		{Load{Viewers: 3, Reactions: 60, Regions: 3}, 4, []float64{3}},
		{Load{Viewers: 3e3, Reactions: 3e3 * UserRate, Regions: 3}, 4, []float64{3, 30, 300, 3000}},
		{Load{Viewers: 50e6, Reactions: 1e6}, 0, nil},
	}
	for _, tt := range tests {
		steps, err := StepsTo(tt.l, tt.n)
		if err != nil {
			t.Fatalf("StepsTo(%+v, %d): %v", tt.l, tt.n, err)
		}
		var got []float64
		for _, s := range steps {
			got = append(got, s.Plan.Load.Viewers)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("StepsTo(%+v, %d): steps of %v viewers, want %v", tt.l, tt.n, got, tt.want)
		}
		if len(steps) > 0 && steps[len(steps)-1].Plan.Load.Reactions != tt.l.Reactions {
			t.Errorf("StepsTo(%+v, %d): the last step is not the load", tt.l, tt.n)
		}
	}
}

// The plan's bill adds up, and the egress line is the viewers' hop.
func TestPlanCosts(t *testing.T) {
	p, err := NewPlan(Load{Viewers: 50e6, Reactions: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, c := range p.Costs {
		if math.Abs(c.Count*c.Each-c.PerHour) > 1e-9*c.PerHour {
			t.Errorf("%s: %v × %v ≠ %v", c.Item, c.Count, c.Each, c.PerHour)
		}
		sum += c.PerHour
	}
	if sum != p.Total() || sum <= 0 {
		t.Errorf("total %v, sum %v", p.Total(), sum)
	}
	last := p.Hops[len(p.Hops)-1]
	if want := 50e6 * WireBytes(p.FrameBytes); last.PerWindow != want {
		t.Errorf("viewers' hop %v bytes a window, want %v", last.PerWindow, want)
	}
}

// A plan whose fixed tier is over 100% says so under the tier table; one
// within the design does not.
func TestPlanWarnsOverCapacity(t *testing.T) {
	for _, c := range []struct {
		l    Load
		want bool
	}{{Load{Viewers: 2e9, Reactions: 2e8}, true}, {Load{Viewers: 5e7, Reactions: 1e6}, false}} {
		p, err := NewPlan(c.l)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		WritePlan(&b, p)
		got := strings.Contains(b.String(), "**Over capacity:** the processor's window time at ")
		if got != c.want {
			t.Errorf("%v viewers: over-capacity warning %v, want %v:\n%s", c.l.Viewers, got, c.want, b.String())
		}
	}
}
