package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name     string
		takes    []int           // events per take, all at t0+at[i]
		at       []time.Duration // offsets from t0
		wantOK   []bool
		wantWait time.Duration // of the last take
	}{
		{"burst then refused", []int{5, 1}, []time.Duration{0, 0}, []bool{true, false}, 500 * time.Millisecond},
		{"refill", []int{5, 1}, []time.Duration{0, 500 * time.Millisecond}, []bool{true, true}, 0},
		{"partial refill", []int{5, 3}, []time.Duration{0, time.Second}, []bool{true, false}, 500 * time.Millisecond},
		{"over burst waits for a full bucket", []int{9}, []time.Duration{0}, []bool{false}, 0},
		{"refill caps at burst", []int{1, 5, 1}, []time.Duration{0, time.Hour, time.Hour}, []bool{true, true, false}, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New[string](2, 5, 100) // 2/s, burst 5
			var wait time.Duration
			for i, n := range tt.takes {
				var ok bool
				ok, wait = l.Take("k", n, t0.Add(tt.at[i]))
				if ok != tt.wantOK[i] {
					t.Fatalf("take %d of %d: ok=%v", i, n, ok)
				}
			}
			if wait != tt.wantWait {
				t.Errorf("wait %v, want %v", wait, tt.wantWait)
			}
		})
	}
}

func TestLimiterMemoryBounded(t *testing.T) {
	l := New[string](1, 1, 64*10) // 10 keys per shard
	now := time.Unix(0, 0)
	for i := range 10_000 {
		l.Take(fmt.Sprint("user-", i), 1, now)
	}
	if n := l.Len(); n > 64*10 {
		t.Errorf("%d buckets held, bound is %d", n, 64*10)
	}
	l.Sweep(now.Add(time.Minute)) // all refilled
	if n := l.Len(); n != 0 {
		t.Errorf("%d buckets after sweeping idle ones", n)
	}
}
