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

	"github.com/emostream/emostream/internal/ratelimit"
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

// A limiter's gauge is its series of emostream_ingest_ratelimit_buckets:
// the limiter label, and the buckets it holds when scraped.
func TestLimiterGauge(t *testing.T) {
	l := ratelimit.New[string](1, 1, 64*10)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(limiterGauge(l, "session")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l.Take(fmt.Sprint("user-", i), 1, time.Unix(0, 0))
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
