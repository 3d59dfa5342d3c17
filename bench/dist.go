package bench

import (
	"math"
	"slices"
	"time"
)

// Dist is a distribution of durations, each sample weighted (an
// event-to-screen sample weighs as many events as its request carried). The
// zero value is empty and ready. It is not safe for concurrent use.
type Dist struct {
	samples []sample
	total   int64
	sorted  bool
}

type sample struct {
	d time.Duration
	w int64
}

// Add records d with weight w; a weight below 1 is ignored.
func (d *Dist) Add(v time.Duration, w int64) {
	if w < 1 {
		return
	}
	d.samples = append(d.samples, sample{v, w})
	d.total += w
	d.sorted = false
}

// Merge adds every sample of o.
func (d *Dist) Merge(o *Dist) {
	for _, s := range o.samples {
		d.Add(s.d, s.w)
	}
}

// Weight is the sum of the weights.
func (d *Dist) Weight() int64 { return d.total }

func (d *Dist) sort() {
	if !d.sorted {
		slices.SortFunc(d.samples, func(a, b sample) int { return int(a.d - b.d) })
		d.sorted = true
	}
}

// Quantile returns the smallest sample whose cumulative weight reaches q of
// the total (nearest rank), zero for an empty distribution.
func (d *Dist) Quantile(q float64) time.Duration {
	if d.total == 0 {
		return 0
	}
	d.sort()
	rank := max(1, int64(math.Ceil(q*float64(d.total))))
	var cum int64
	for _, s := range d.samples {
		if cum += s.w; cum >= rank {
			return s.d
		}
	}
	return d.samples[len(d.samples)-1].d
}

// Stats summarises a distribution in milliseconds.
type Stats struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Stats returns the count, mean and quantiles of d.
func (d *Dist) Stats() Stats {
	if d.total == 0 {
		return Stats{}
	}
	d.sort()
	var sum float64
	for _, s := range d.samples {
		sum += float64(s.d) * float64(s.w)
	}
	return Stats{
		Count: d.total, Mean: ms(time.Duration(sum / float64(d.total))),
		Min: ms(d.samples[0].d), Max: ms(d.samples[len(d.samples)-1].d),
		P50: ms(d.Quantile(0.50)), P95: ms(d.Quantile(0.95)), P99: ms(d.Quantile(0.99)),
	}
}

// CDFPoint is one point of a cumulative distribution: Fraction of the
// weight is at or below Millis.
type CDFPoint struct {
	Millis   float64 `json:"ms"`
	Fraction float64 `json:"fraction"`
}

// CDF returns at most n points of the cumulative distribution, evenly
// spread over the fractions, the last one at the maximum.
func (d *Dist) CDF(n int) []CDFPoint {
	if d.total == 0 || n < 2 {
		return nil
	}
	d.sort()
	pts := make([]CDFPoint, 0, n)
	var cum int64
	next := 1
	for _, s := range d.samples {
		cum += s.w
		for next <= n && float64(cum) >= float64(next)/float64(n)*float64(d.total) {
			pts = append(pts, CDFPoint{Millis: ms(s.d), Fraction: float64(next) / float64(n)})
			next++
		}
	}
	return pts
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

// ratio returns a/b, zero when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
