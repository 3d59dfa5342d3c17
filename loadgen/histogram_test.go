package loadgen

import (
	"sync"
	"testing"
	"time"
)

func TestBucketRangeHoldsValue(t *testing.T) {
	values := []uint64{0, 1, 255, 256, 257, 383, 384, 511, 512, 1000, 123_456, 1 << 40, 1<<64 - 1}
	for v := uint64(1); v < 1<<62; v = v*3 + 1 {
		values = append(values, v, v-1, v+1)
	}
	for _, v := range values {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi || i >= numBuckets {
			t.Fatalf("value %d: bucket %d holds [%d, %d]", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo)/float64(lo) > 1.0/halfCount {
			t.Fatalf("value %d: bucket [%d, %d] wider than 1/%d", v, lo, hi, halfCount)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	s := h.Snapshot()
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, time.Microsecond},
		{0.5, 500 * time.Microsecond},
		{0.9, 900 * time.Microsecond},
		{0.99, 990 * time.Microsecond},
		{0.999, 999 * time.Microsecond},
		{1, 1000 * time.Microsecond},
	}
	for _, tt := range tests {
		got := s.Quantile(tt.q)
		if diff := got - tt.want; diff < -tt.want/128 || diff > tt.want/128 {
			t.Errorf("Quantile(%v) = %v, want %v within 1/128", tt.q, got, tt.want)
		}
	}
	if s.Count != 1000 || s.Min != time.Microsecond || s.Max != time.Millisecond {
		t.Errorf("count %d min %v max %v, want 1000 1µs 1ms", s.Count, s.Min, s.Max)
	}
	if got, want := s.Mean(), 500500*time.Nanosecond; got != want {
		t.Errorf("Mean = %v, want %v", got, want)
	}
}

func TestQuantileExactForSmallAndEqualValues(t *testing.T) {
	var small, same Histogram
	for _, v := range []time.Duration{10, 20, 30, 40} {
		small.Record(v)
		same.Record(3 * time.Millisecond)
	}
	if got := small.Snapshot().Quantile(0.5); got != 20 {
		t.Errorf("small p50 = %v, want 20ns", got)
	}
	if got := same.Snapshot().Quantile(0.99); got != 3*time.Millisecond {
		t.Errorf("equal values p99 = %v, want 3ms", got)
	}
	var empty Histogram
	if got := empty.Snapshot().Quantile(0.5); got != 0 {
		t.Errorf("empty p50 = %v, want 0", got)
	}
}

func TestSnapshotSub(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(time.Millisecond)
	}
	before := h.Snapshot()
	for range 10 {
		h.Record(5 * time.Millisecond)
	}
	d := h.Snapshot().Sub(before)
	if d.Count != 10 || d.Sum != 50*time.Millisecond {
		t.Fatalf("interval count %d sum %v, want 10 and 50ms", d.Count, d.Sum)
	}
	if got := d.Quantile(0.5); got < 5*time.Millisecond*127/128 || got > 5*time.Millisecond {
		t.Errorf("interval p50 = %v, want 5ms within 1/128", got)
	}
}

func TestRecordConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i+1) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Count != 8000 || s.Min != time.Microsecond || s.Max != 8*time.Millisecond {
		t.Errorf("count %d min %v max %v, want 8000 1µs 8ms", s.Count, s.Min, s.Max)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xfffff) * time.Microsecond)
	}
}
