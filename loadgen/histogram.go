package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram keeps values (nanoseconds) below 2^subBits exactly and
// larger ones in buckets of relative width 2^-(subBits-1), under 0.8%: each
// power of two is cut into 2^(subBits-1) equal buckets, like HdrHistogram.
const (
	subBits    = 8
	subCount   = 1 << subBits // exact values below this
	halfCount  = subCount / 2 // buckets per power of two above it
	maxShift   = 64 - subBits
	numBuckets = (maxShift+1)*halfCount + halfCount
)

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits
	return shift*halfCount + int(v>>shift)
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	shift := i/halfCount - 1
	sub := uint64(i%halfCount + halfCount)
	return sub << shift, (sub+1)<<shift - 1
}

// Histogram records durations in fixed log-spaced buckets. Record is safe
// for concurrent use and allocation free; the zero value is empty and ready.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
	min    atomic.Uint64 // stored as ^v so that zero means none
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
	for m := h.max.Load(); v > m && !h.max.CompareAndSwap(m, v); m = h.max.Load() {
	}
	for m := h.min.Load(); ^v > m && !h.min.CompareAndSwap(m, ^v); m = h.min.Load() {
	}
}

// Snapshot copies the histogram's current state.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{counts: make([]uint64, numBuckets)}
	for i := range h.counts {
		s.counts[i] = h.counts[i].Load()
		s.Count += s.counts[i]
	}
	s.Sum = time.Duration(h.sum.Load())
	s.Max = time.Duration(h.max.Load())
	if m := h.min.Load(); m != 0 {
		s.Min = time.Duration(^m)
	}
	return s
}

// Snapshot is a point-in-time copy of a Histogram.
type Snapshot struct {
	counts []uint64
	// Count is the number of recorded values.
	Count uint64
	// Sum, Min and Max are exact for a snapshot; for a difference of two
	// snapshots Min and Max are bucket bounds.
	Sum, Min, Max time.Duration
}

// Sub returns the values recorded after prev, an earlier snapshot of the
// same histogram.
func (s Snapshot) Sub(prev Snapshot) Snapshot {
	if prev.counts == nil {
		return s
	}
	d := Snapshot{counts: make([]uint64, numBuckets), Sum: s.Sum - prev.Sum}
	first, last := -1, -1
	for i := range s.counts {
		d.counts[i] = s.counts[i] - prev.counts[i]
		d.Count += d.counts[i]
		if d.counts[i] == 0 {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	if first >= 0 {
		lo, _ := bucketRange(first)
		_, hi := bucketRange(last)
		d.Min, d.Max = time.Duration(max(lo, uint64(s.Min))), time.Duration(min(hi, uint64(s.Max)))
	}
	return d
}

// Quantile returns the value below or at which a fraction q (0…1) of the
// recorded values lie, to within the bucket width (under 0.8%), clamped to
// [Min, Max]. It returns zero for an empty snapshot.
func (s Snapshot) Quantile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.Count)))
	rank = min(max(rank, 1), s.Count)
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			mid := time.Duration(lo + (hi-lo)/2)
			return min(max(mid, s.Min), s.Max)
		}
	}
	return s.Max
}

// Mean returns the average recorded value, zero if none.
func (s Snapshot) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Count)
}
