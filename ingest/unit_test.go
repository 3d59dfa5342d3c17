package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

func TestPartitionOfMatchesKafkaHash(t *testing.T) {
	for _, n := range []int{1, 3, 4, 8, 13} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		for i := range 2000 {
			key := fmt.Sprintf("user-%d", i*7919)
			want := (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(key)}, parts...)
			if got := partitionOf(key, n); got != want {
				t.Fatalf("partitionOf(%q, %d) = %d, kafka.Hash picks %d", key, n, got, want)
			}
		}
	}
}

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
			l := newLimiter[string](2, 5, 100) // 2/s, burst 5
			var wait time.Duration
			for i, n := range tt.takes {
				var ok bool
				ok, wait = l.take("k", n, t0.Add(tt.at[i]))
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
	l := newLimiter[string](1, 1, 64*10) // 10 keys per shard
	now := time.Unix(0, 0)
	for i := range 10_000 {
		l.take(fmt.Sprint("user-", i), 1, now)
	}
	if n := l.len(); n > 64*10 {
		t.Errorf("%d buckets held, bound is %d", n, 64*10)
	}
	l.sweep(now.Add(time.Minute)) // all refilled
	if n := l.len(); n != 0 {
		t.Errorf("%d buckets after sweeping idle ones", n)
	}
}

// A limiter's gauge is its series of emostream_ingest_ratelimit_buckets:
// the limiter label, and the buckets it holds when scraped.
func TestLimiterGauge(t *testing.T) {
	l := newLimiter[string](1, 1, 64*10)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(l.gauge("session")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l.take(fmt.Sprint("user-", i), 1, time.Unix(0, 0))
	}
	want := `# HELP emostream_ingest_ratelimit_buckets Token buckets held by a rate limiter (bounded by MaxBuckets; full buckets are dropped).
# TYPE emostream_ingest_ratelimit_buckets gauge
emostream_ingest_ratelimit_buckets{limiter="session"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestParseCIDRsIsAConfigError(t *testing.T) {
	if _, err := ParseCIDRs("10.0.0.0/33"); !errors.Is(err, ErrConfig) {
		t.Errorf("bad CIDR: %v, want an ErrConfig", err)
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "Application/JSON": true, "application/json; charset=utf-8": true,
		`application/json;charset="UTF-8"`: true, "application/json; charset=latin1": false,
		"text/json": false, "": false, "application/jsonx": false, "application/json; foo=bar": true,
	} {
		if got := isJSON([]byte(ct)); got != want {
			t.Errorf("isJSON(%q) = %v", ct, got)
		}
	}
}

// TestFlushRules checks when a partition sends its open batch: at once when
// nothing is in flight (group commit), else when full, at the flush
// interval, or at the window boundary.
func TestFlushRules(t *testing.T) {
	now := time.UnixMilli(10_600) // 600ms into the 2s window [10s, 12s)
	cfg := &Config{FlushInterval: 500 * time.Millisecond, MaxInFlight: 4, MaxBatchBytes: 1000, Now: func() time.Time { return now }}
	w := &partition{p: &producer{cfg: cfg, windowMs: 2000}}
	req := func(at time.Time, bytes int) *request {
		return &request{receivedAt: at.UnixMilli(), buf: make([]byte, bytes)}
	}
	tests := []struct {
		name     string
		inflight int
		arrived  time.Duration // before now
		sizes    []int
		want     int // batches sent
	}{
		{"idle partition sends at once", 0, 0, []int{10}, 1},
		{"busy partition holds", 1, 100 * time.Millisecond, []int{10}, 0},
		{"flush interval reached", 1, 500 * time.Millisecond, []int{10}, 1},
		{"flush interval not reached", 1, 499 * time.Millisecond, []int{10}, 0},
		{"window boundary passed", 1, 601 * time.Millisecond, []int{10}, 1},
		{"full batch goes while busy", 1, 0, []int{600, 600}, 1},
		{"in-flight limit", 4, time.Second, []int{10}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := queue{inflight: tt.inflight}
			arrived := now.Add(-tt.arrived)
			for _, s := range tt.sizes {
				w.add(&q, req(arrived, s))
			}
			sent := 0
			for q.inflight < cfg.MaxInFlight && w.next(&q) != nil {
				q.inflight++
				sent++
			}
			if sent != tt.want {
				t.Errorf("sent %d batches, want %d", sent, tt.want)
			}
		})
	}
}

// knownMethod knows exactly fiber's methods.
func TestKnownMethod(t *testing.T) {
	for _, m := range fiber.DefaultMethods {
		if !knownMethod([]byte(m)) {
			t.Errorf("%s unknown", m)
		}
	}
	for _, m := range []string{"", "get", "BREW", "GETX", "0"} {
		if knownMethod([]byte(m)) {
			t.Errorf("%q known", m)
		}
	}
}
