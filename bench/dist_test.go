package bench

import (
	"testing"
	"time"
)

func TestQuantileWeighted(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		samples [][2]int64 // ms, weight
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", [][2]int64{{7, 1}}, 0.99, 7 * ms},
		{"median of four", [][2]int64{{4, 1}, {1, 1}, {3, 1}, {2, 1}}, 0.5, 2 * ms},
		{"p99 of 100", seq(100), 0.99, 99 * ms},
		{"p95 of 100", seq(100), 0.95, 95 * ms},
		{"weight decides", [][2]int64{{1, 98}, {500, 2}}, 0.98, 1 * ms},
		{"weight decides above", [][2]int64{{1, 98}, {500, 2}}, 0.99, 500 * ms},
		{"zero weight ignored", [][2]int64{{1, 1}, {900, 0}}, 1, 1 * ms},
		{"max", [][2]int64{{3, 2}, {9, 1}}, 1, 9 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Dist
			for _, s := range tt.samples {
				d.Add(time.Duration(s[0])*ms, s[1])
			}
			if got := d.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func seq(n int64) [][2]int64 {
	var s [][2]int64
	for i := n; i >= 1; i-- {
		s = append(s, [2]int64{i, 1})
	}
	return s
}

func TestStats(t *testing.T) {
	var d Dist
	for _, s := range seq(100) {
		d.Add(time.Duration(s[0])*time.Millisecond, s[1])
	}
	got := d.Stats()
	want := Stats{Count: 100, Min: 1, Mean: 50.5, P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if (&Dist{}).Stats() != (Stats{}) {
		t.Error("empty Stats not zero")
	}
}

func TestCDF(t *testing.T) {
	var d Dist
	for _, s := range seq(1000) {
		d.Add(time.Duration(s[0])*time.Microsecond, s[1])
	}
	pts := d.CDF(10)
	if len(pts) != 10 {
		t.Fatalf("got %d points, want 10", len(pts))
	}
	for i, p := range pts {
		wantF := float64(i+1) / 10
		wantMs := float64((i+1)*100) / 1000
		if p.Fraction != wantF || p.Millis != wantMs {
			t.Errorf("point %d = %+v, want {%v %v}", i, p, wantMs, wantF)
		}
	}
	if (&Dist{}).CDF(10) != nil {
		t.Error("CDF of an empty distribution is not nil")
	}
}

func TestRatio(t *testing.T) {
	tests := []struct{ a, b, want float64 }{{30, 60, 0.5}, {1, 0, 0}, {0, 5, 0}, {120, 100, 1.2}}
	for _, tt := range tests {
		if got := ratio(tt.a, tt.b); got != tt.want {
			t.Errorf("ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
