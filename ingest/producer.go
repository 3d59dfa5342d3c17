package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"golang.org/x/sync/semaphore"
)

// Errors of the producer; a client sees them as 503 kafka_unavailable.
var (
	ErrNoPartitions = errors.New("ingest: topic partitions not known yet")
	ErrBusy         = errors.New("ingest: producer queue full")
)

// queueLen is each partition's queue of requests waiting for its goroutine.
const queueLen = 4096

// producer writes requests to Kafka: all events of one request to one
// partition in one produce request.
type producer struct {
	cfg      *Config
	windowMs int64
	client   *kafka.Client
	log      *slog.Logger
	m        *metrics
	health   health
	budget   *semaphore.Weighted // events buffered or in flight

	mu     sync.RWMutex // guards closed and sends on the partitions' queues
	closed bool
	parts  atomic.Pointer[[]*partition]
	wg     sync.WaitGroup

	abandon       context.Context // ends when buffered retries give up
	abandonCancel context.CancelFunc
}

func newProducer(cfg *Config, m *metrics) *producer {
	tr := cfg.kafka.Transport("emostream-ingest")
	tr.MetadataTopics, tr.MetadataTTL = []string{cfg.Topic}, 5*time.Second
	p := &producer{
		cfg:      cfg,
		windowMs: cfg.Window.Milliseconds(),
		client:   &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Transport: tr},
		log:      cfg.Logger,
		m:        m,
		budget:   semaphore.NewWeighted(int64(cfg.MaxBuffered)),
	}
	p.parts.Store(&[]*partition{})
	p.abandon, p.abandonCancel = context.WithCancel(context.Background())
	return p
}

// submit queues r on the partition its first user_id hashes to, waiting at
// most ProduceTimeout for room in the buffer.
func (p *producer) submit(r *request) error {
	n := int64(len(r.ends))
	if !p.budget.TryAcquire(n) {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ProduceTimeout)
		err := p.budget.Acquire(ctx, n)
		cancel()
		if err != nil {
			return ErrBusy
		}
	}
	p.m.buffered.Add(n)
	if err := p.enqueue(r); err != nil {
		p.release(n)
		return err
	}
	return nil
}

// release gives back n events' room in the buffer.
func (p *producer) release(n int64) {
	p.m.buffered.Add(-n)
	p.budget.Release(n)
}

func (p *producer) enqueue(r *request) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	parts := *p.parts.Load()
	switch {
	case p.closed:
		return ErrClosed
	case len(parts) == 0:
		return ErrNoPartitions
	}
	w := parts[partitionOf(r.events[0].UserID, len(parts))]
	select {
	case w.in <- r:
		return nil
	default:
	}
	t := time.NewTimer(p.cfg.ProduceTimeout)
	defer t.Stop()
	select {
	case w.in <- r:
		return nil
	case <-t.C:
		return ErrBusy
	}
}

// partitionOf is the partition kafka-go's Hash balancer picks for key:
// FNV-1a of the key, as an int32, modulo n, made non-negative.
func partitionOf(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	p := int32(h) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

// grow starts goroutines for partitions up to n; partitions never shrink.
func (p *producer) grow(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.parts.Load()
	if p.closed || n <= len(old) {
		return
	}
	parts := append([]*partition(nil), old...)
	for id := len(old); id < n; id++ {
		w := &partition{p: p, id: id, in: make(chan *request, queueLen)}
		parts = append(parts, w)
		p.wg.Go(w.run)
	}
	p.parts.Store(&parts)
	p.log.Info("partitions", "topic", p.cfg.Topic, "count", n)
}

// write produces one batch to partition part. In AckAll mode it tries once
// and the requests' clients see the error; in AckBuffered mode they were
// answered already, so it retries until it succeeds or close gives up.
func (p *producer) write(part int, b []*request) error {
	n := count(b)
	bp := recordSetPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 4<<20 {
			recordSetPool.Put(bp)
		}
	}()
	set, err := appendRecordSet((*bp)[:0], b, p.cfg.Compression)
	*bp = set
	if err != nil {
		p.m.observeProduce(0, n, err)
		return err
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := p.produce(part, set, n)
		if err == nil || p.cfg.Ack == AckAll {
			return err
		}
		select {
		case <-p.abandon.Done():
			p.m.lost.Add(float64(n))
			p.log.Error("dropping buffered events", "partition", part, "events", n, "err", err)
			return err
		case <-time.After(wait):
		}
	}
}

// recordSetPool holds the buffers produce requests are written in.
var recordSetPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// produce sends set, a record set of n records (appendRecordSet), to
// partition part and waits for every in-sync replica and, if configured,
// the local broker's fsync.
func (p *producer) produce(part int, set []byte, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ProduceTimeout)
	defer cancel()
	start := time.Now()
	res, err := p.client.RawProduce(ctx, &kafka.RawProduceRequest{
		Topic: p.cfg.Topic, Partition: part, RequiredAcks: kafka.RequireAll,
		RawRecords: protocol.RawRecordSet{Reader: bytes.NewReader(set)},
	})
	if err == nil && res.Error != nil {
		err = res.Error
	}
	if err == nil && p.cfg.Sync != nil {
		err = p.cfg.Sync(ctx)
	}
	if err != nil {
		err = fmt.Errorf("producing to %s/%d: %w", p.cfg.Topic, part, err)
	}
	p.m.observeProduce(time.Since(start), n, err)
	p.report(err)
	return err
}

// close stops accepting, sends what is buffered, and waits for every
// produce. Buffered-mode retries give up after timeout.
func (p *producer) close(timeout time.Duration) {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, w := range *p.parts.Load() {
			close(w.in)
		}
	}
	p.mu.Unlock()
	t := time.AfterFunc(timeout, p.abandonCancel)
	defer t.Stop()
	p.wg.Wait()
	p.abandonCancel()
}
