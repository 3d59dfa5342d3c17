package ratelimit

import (
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limiter is a set of token buckets, one per key, each refilled at rate
// tokens per second up to burst. A bucket that has refilled completely is
// the same as no bucket, so Sweep drops those; past maxKeys a shard also
// drops arbitrary ones, which bounds memory at the cost of forgiving some
// clients.
type Limiter[K comparable] struct {
	rate    float64 // tokens per second; <= 0 means no limit
	burst   float64
	maxKeys int // per shard
	seed    maphash.Seed
	shards  [limiterShards]limiterShard[K]
}

const limiterShards = 64

type limiterShard[K comparable] struct {
	mu      sync.Mutex
	buckets map[K]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New is a Limiter of rate tokens per second (0 or less: no limit) up to
// burst per key, holding at most about maxKeys buckets.
func New[K comparable](rate float64, burst, maxKeys int) *Limiter[K] {
	l := &Limiter[K]{rate: rate, burst: float64(burst), maxKeys: max(maxKeys/limiterShards, 1), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[K]*bucket)
	}
	return l
}

// Enabled reports whether l limits at all.
func (l *Limiter[K]) Enabled() bool { return l != nil && l.rate > 0 }

func (l *Limiter[K]) shard(k K) *limiterShard[K] {
	return &l.shards[maphash.Comparable(l.seed, k)%limiterShards]
}

// Take removes n tokens from k's bucket, or, if it has fewer, removes none
// and returns how long until it would have n.
func (l *Limiter[K]) Take(k K, n int, now time.Time) (ok bool, wait time.Duration) {
	s := l.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[k]
	if b == nil {
		b = l.add(s, k, now)
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= float64(n) {
		b.tokens -= float64(n)
		return true, 0
	}
	missing := min(float64(n), l.burst) - b.tokens // past burst, wait for a full bucket
	return false, time.Duration(math.Ceil(missing / l.rate * float64(time.Second)))
}

// Give returns n tokens taken from k's bucket.
func (l *Limiter[K]) Give(k K, n int) {
	s := l.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[k]; b != nil {
		b.tokens = min(l.burst, b.tokens+float64(n))
	}
}

// add makes a full bucket for k, making room in the shard if needed.
func (l *Limiter[K]) add(s *limiterShard[K], k K, now time.Time) *bucket {
	if len(s.buckets) >= l.maxKeys {
		l.sweepShard(s, now)
	}
	for victim := range s.buckets {
		if len(s.buckets) < l.maxKeys {
			break
		}
		delete(s.buckets, victim)
	}
	b := &bucket{tokens: l.burst, last: now}
	s.buckets[k] = b
	return b
}

// Sweep drops every bucket that has refilled completely.
func (l *Limiter[K]) Sweep(now time.Time) {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		l.sweepShard(s, now)
		s.mu.Unlock()
	}
}

func (l *Limiter[K]) sweepShard(s *limiterShard[K], now time.Time) {
	for k, b := range s.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(s.buckets, k)
		}
	}
}

// Len is the number of buckets held.
func (l *Limiter[K]) Len() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].buckets)
		l.shards[i].mu.Unlock()
	}
	return n
}

// Burst is the most tokens a key's bucket holds.
func (l *Limiter[K]) Burst() int { return int(l.burst) }

// Gauge is a gauge of opts whose value is the buckets l holds when
// scraped: the state that grows with distinct keys.
func (l *Limiter[K]) Gauge(opts prometheus.GaugeOpts) prometheus.Collector {
	return prometheus.NewGaugeFunc(opts, func() float64 { return float64(l.Len()) })
}
