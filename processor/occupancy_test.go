package processor

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// Edges report their viewers as an edge would, over NATS: each swarm
// carries the sum of the latest reports; an edge silent for three
// intervals no longer counts; edges past MaxEdges, counts past
// MaxOccupancy and bad reports are dropped and counted.
func TestOccupancyIntoSwarms(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	var skew atomic.Int64 // the processor's clock runs this far ahead
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	_, _, p := r.processor(Config{Now: now, MaxEdges: 2, MaxOccupancy: 3})
	nc, _ := r.nats.Connect()
	report := func(edge string, matches map[string]int64) {
		b, _ := json.Marshal(wire.Occupancy{Edge: edge, At: time.Now(), Interval: 5 * time.Second, Matches: matches})
		if err := nc.Publish(wire.ViewersSubject(edge), b); err != nil {
			t.Fatal(err)
		}
	}
	applied := func() float64 {
		var m dto.Metric
		_ = p.met.occupancyReports.WithLabelValues("applied").Write(&m)
		return m.GetCounter().GetValue()
	}
	testenv.WaitFor(t, timeout, "the processor's subscription", func() bool {
		report("edge-a", map[string]int64{"m1": 1})
		_ = nc.Flush()
		return applied() > 0
	})
	report("edge-a", map[string]int64{"m1": 100, "m2": 7})
	report("edge-b", map[string]int64{"m1": 20})
	report("edge-c", map[string]int64{"m1": 1000})             // over MaxEdges
	_ = nc.Publish(wire.ViewersSubject("edge-b"), []byte("{")) // bad
	report("edge-b", map[string]int64{"m1": 23})               // replaces edge-b's 20
	report("edge-b", map[string]int64{"m3": 5})                // a fourth count: over MaxOccupancy
	// Wait for the state, not the counter: probes sent while waiting for
	// the subscription may be applied after it, and count too.
	testenv.WaitFor(t, timeout, "the reports applied", func() bool {
		return p.occ.viewers("m1") == 123 && p.occ.viewers("m2") == 7
	})
	rng := rand.New(rand.NewPCG(3, 4))
	r.window(rng, pastWindow(0), winMs)
	r.exact(timeout)
	if sw := r.viewer.swarm("m1", pastWindow(0)); sw.Viewers != 123 {
		t.Errorf("m1 viewers %d, want 100+23", sw.Viewers)
	}
	if sw := r.viewer.swarm("m2", pastWindow(0)); sw.Viewers != 7 {
		t.Errorf("m2 viewers %d, want 7", sw.Viewers)
	}
	// edge-a stays silent for three intervals; edge-b keeps reporting.
	skew.Store(int64(16 * time.Second))
	report("edge-b", map[string]int64{"m1": 30})
	testenv.WaitFor(t, timeout, "edge-b's report", func() bool { return p.occ.viewers("m1") == 30 })
	r.window(rng, pastWindow(1), winMs)
	r.exact(timeout)
	if sw := r.viewer.swarm("m1", pastWindow(1)); sw.Viewers != 30 {
		t.Errorf("m1 viewers %d after edge-a expired, want 30", sw.Viewers)
	}
	if sw := r.viewer.swarm("m3", pastWindow(0)); sw != nil && sw.Viewers != 0 {
		t.Errorf("m3 viewers %d past MaxOccupancy, want 0", sw.Viewers)
	}
	for result, want := range map[string]float64{"over_edges": 1, "bad": 1, "partial": 1} {
		var m dto.Metric
		_ = p.met.occupancyReports.WithLabelValues(result).Write(&m)
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("%s reports %v, want %v", result, got, want)
		}
	}
}

// Forged reports from credentialed edges cannot overflow a match's viewers
// or make them negative: each count is clamped to what one edge can hold
// (the report's connection cap, at most MaxEdgeViewers) and counted as
// clamped; a negative count is left out.
func TestOccupancyForgedReportsClamped(t *testing.T) {
	r := newRig(t, 1, streams.Config{})
	_, _, p := r.processor(Config{MaxEdges: 4})
	nc, _ := r.nats.Connect()
	report := func(edge string, maxConns int64, matches map[string]int64) {
		b, _ := json.Marshal(wire.Occupancy{Edge: edge, At: time.Now(), Interval: 5 * time.Second,
			MaxConnections: maxConns, Matches: matches})
		if err := nc.Publish(wire.ViewersSubject(edge), b); err != nil {
			t.Fatal(err)
		}
	}
	results := func() (n float64) {
		for _, kind := range []string{"applied", "clamped", "partial"} {
			var m dto.Metric
			_ = p.met.occupancyReports.WithLabelValues(kind).Write(&m)
			n += m.GetCounter().GetValue()
		}
		return n
	}
	testenv.WaitFor(t, timeout, "the processor's subscription", func() bool {
		report("edge-0", 0, map[string]int64{"m0": 1})
		_ = nc.Flush()
		return results() > 0
	})
	before := results()
	huge := int64(math.MaxInt64)
	report("edge-a", 0, map[string]int64{"m1": huge, "m2": huge})
	report("edge-b", huge, map[string]int64{"m1": huge})
	report("edge-c", 500, map[string]int64{"m1": 1_000_000_000, "m2": -huge})
	testenv.WaitFor(t, timeout, "the reports applied", func() bool { return results() >= before+3 })
	r.window(rand.New(rand.NewPCG(5, 6)), pastWindow(0), winMs)
	r.exact(timeout)
	if sw := r.viewer.swarm("m1", pastWindow(0)); sw.Viewers != 2*DefaultMaxEdgeViewers+500 {
		t.Errorf("m1 viewers %d, want 2 × %d + 500", sw.Viewers, DefaultMaxEdgeViewers)
	}
	if sw := r.viewer.swarm("m2", pastWindow(0)); sw.Viewers != DefaultMaxEdgeViewers {
		t.Errorf("m2 viewers %d, want %d", sw.Viewers, DefaultMaxEdgeViewers)
	}
	var m dto.Metric
	_ = p.met.occupancyReports.WithLabelValues("clamped").Write(&m)
	if got := m.GetCounter().GetValue(); got != 2 {
		t.Errorf("clamped reports %v, want 2 (edge-c's is partial)", got)
	}
}

// FuzzOccupancyReport: no report, however forged, makes a match's sum
// negative or larger than MaxEdges × MaxEdgeViewers, or keeps more counts
// than MaxOccupancy.
//
//	go test ./processor -run '^$' -fuzz FuzzOccupancyReport -fuzztime 1m
func FuzzOccupancyReport(f *testing.F) {
	for _, seed := range []string{
		`{"edge":"e1","interval_ns":5000000000,"matches":{"m1":3}}`,
		`{"edge":"e1","max_connections":9223372036854775807,"matches":{"m1":9223372036854775807,"m2":-9223372036854775808}}`,
		`{"edge":"e2","max_connections":-1,"matches":{"m1":1e300}}`,
		`{"edge":"e3","max_connections":10,"matches":{"m1":11,"bad id!":5,"m3":0.5}}`,
		`{"edge":"e4","interval_ns":-1,"at":"9999-12-31T23:59:59Z","matches":{"m1":1}}`,
		`{"edge":"","matches":{}}`, `{`, `null`, `[]`,
	} {
		f.Add(seed)
	}
	const maxEdges, maxEntries, maxViewers = 3, 5, 1000
	met, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	o := newOccupancy(maxEdges, maxEntries, maxViewers, time.Now, met)
	f.Fuzz(func(t *testing.T, report string) {
		var r struct{ Edge string }
		_ = json.Unmarshal([]byte(report), &r)
		o.receive(&nats.Msg{Subject: wire.ViewersSubject(r.Edge), Data: []byte(report)})
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.entries > maxEntries || len(o.edges) > maxEdges {
			t.Fatalf("%d entries, %d edges", o.entries, len(o.edges))
		}
		for m, n := range o.sums {
			if n < 0 || n > maxEdges*maxViewers {
				t.Fatalf("match %s: sum %d", m, n)
			}
		}
	})
}
