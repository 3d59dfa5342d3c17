package bench

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// StageMetric is one emostream_* series of the embedded stack's registry,
// as it changed over the pipeline phase: a counter's increase, or a
// histogram's observations with their mean and quantiles estimated from
// the buckets (linear within a bucket).
type StageMetric struct {
	Name  string  `json:"name"`
	Help  string  `json:"help,omitempty"`
	Delta float64 `json:"delta,omitempty"` // counters
	Count uint64  `json:"count,omitempty"` // histograms
	Mean  float64 `json:"mean,omitempty"`
	P50   float64 `json:"p50,omitempty"`
	P99   float64 `json:"p99,omitempty"`
}

// snapshot is a gathered registry: counters and histograms by series name.
type snapshot struct {
	counters map[string]float64
	hists    map[string]*dto.Histogram
	help     map[string]string
}

func gather(g prometheus.Gatherer) snapshot {
	s := snapshot{counters: map[string]float64{}, hists: map[string]*dto.Histogram{}, help: map[string]string{}}
	if g == nil {
		return s
	}
	families, _ := g.Gather() // a partial gather is still worth reporting
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "emostream_") {
			continue
		}
		for _, m := range f.GetMetric() {
			name := seriesName(f.GetName(), m)
			s.help[name] = f.GetHelp()
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				s.counters[name] += m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				s.hists[name] = m.GetHistogram()
			}
		}
	}
	return s
}

// seriesName names a series by its family and labels, leaving out the
// partition: a stage's partitions are summed.
func seriesName(family string, m *dto.Metric) string {
	var labels []string
	for _, l := range m.GetLabel() {
		if l.GetName() == "partition" {
			continue
		}
		labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	if len(labels) == 0 {
		return family
	}
	return family + "{" + strings.Join(labels, ",") + "}"
}

// stageMetrics returns what changed between two snapshots, by name.
func stageMetrics(before, after snapshot) []StageMetric {
	var out []StageMetric
	for name, v := range after.counters {
		if d := v - before.counters[name]; d > 0 {
			out = append(out, StageMetric{Name: name, Help: after.help[name], Delta: d})
		}
	}
	for name, h := range after.hists {
		if m, ok := histDelta(before.hists[name], h); ok {
			m.Name, m.Help = name, after.help[name]
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b StageMetric) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// histDelta summarises the observations after has and before had not.
func histDelta(before, after *dto.Histogram) (StageMetric, bool) {
	count := after.GetSampleCount() - before.GetSampleCount()
	if count == 0 {
		return StageMetric{}, false
	}
	m := StageMetric{Count: count, Mean: (after.GetSampleSum() - before.GetSampleSum()) / float64(count)}
	var bounds []float64
	var cum []uint64
	for i, b := range after.GetBucket() {
		n := b.GetCumulativeCount()
		if before != nil && i < len(before.GetBucket()) {
			n -= before.GetBucket()[i].GetCumulativeCount()
		}
		bounds, cum = append(bounds, b.GetUpperBound()), append(cum, n)
	}
	m.P50, m.P99 = bucketQuantile(0.5, bounds, cum, count), bucketQuantile(0.99, bounds, cum, count)
	return m, true
}

// bucketQuantile estimates quantile q from cumulative bucket counts; past
// the last bound it answers the last bound.
//
// In the first bucket, whose lower end is unknown (a histogram of counts
// starts at 1, not 0), it answers the bucket's bound: interpolating from 0
// would report 0.5 when every value is 1.
func bucketQuantile(q float64, bounds []float64, cum []uint64, total uint64) float64 {
	rank := q * float64(total)
	lo, prev := 0.0, uint64(0)
	for i, c := range cum {
		if float64(c) >= rank {
			if c == prev || i == 0 {
				return bounds[i]
			}
			return lo + (bounds[i]-lo)*(rank-float64(prev))/float64(c-prev)
		}
		lo, prev = bounds[i], c
	}
	if len(bounds) == 0 {
		return 0
	}
	return bounds[len(bounds)-1]
}
