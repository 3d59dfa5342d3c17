package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Readiness timing.
const (
	// probeInterval is how often the producer checks Kafka when it has
	// produced nothing in that time, and refreshes the partition count.
	probeInterval = time.Second
	// readyFor is how long one successful round trip keeps /readyz green.
	readyFor = 3 * probeInterval
)

// health is the producer's view of Kafka: the result of the last produce or
// probe, and when Kafka last answered.
type health struct {
	mu     sync.Mutex
	ok     bool
	lastOK time.Time
	err    error
}

// report records the result of a round trip to Kafka, logging changes.
func (p *producer) report(err error) {
	err = p.cfg.kafka.Explain(err) // a refused TLS or SASL says what to check
	h := &p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil && !h.ok:
		p.log.Info("kafka reachable", "brokers", p.cfg.KafkaBrokers, "security", p.cfg.kafka.String())
	case err != nil && (h.ok || h.err == nil):
		p.log.Warn("kafka unavailable", "brokers", p.cfg.KafkaBrokers, "err", err)
	}
	h.ok, h.err = err == nil, err
	if err == nil {
		h.lastOK = time.Now()
	}
}

// ready reports whether Kafka answered recently and the last round trip
// succeeded; if not, it says why.
func (p *producer) ready() error {
	h := &p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.err != nil:
		return h.err
	case !h.ok:
		return fmt.Errorf("no answer from kafka yet")
	case time.Since(h.lastOK) > readyFor:
		return fmt.Errorf("no answer from kafka for %v", time.Since(h.lastOK).Round(time.Millisecond))
	}
	return nil
}

// idle reports whether nothing reached Kafka for a probe interval.
func (p *producer) idle() bool {
	p.health.mu.Lock()
	defer p.health.mu.Unlock()
	return time.Since(p.health.lastOK) >= probeInterval
}

// watch refreshes the partition count and probes Kafka until ctx ends.
func (p *producer) watch(ctx context.Context) {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		p.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe refreshes the partition count and, when no produce succeeded lately,
// makes one real round trip (and, with Config.Sync, one Sync) so /readyz
// tells the truth while traffic is low.
// A failed probe counts only if no produce succeeded meanwhile: a broker
// busy with produces may answer a probe late.
func (p *producer) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ProduceTimeout)
	defer cancel()
	if err := p.refresh(ctx); err != nil {
		p.report(p.why(ctx, err))
		return
	}
	if !p.idle() {
		return
	}
	_, err := p.client.ApiVersions(ctx, &kafka.ApiVersionsRequest{})
	if err == nil && p.cfg.Sync != nil {
		err = p.cfg.Sync(ctx) // a 202 waits for it too: a broken fsync is not ready
	}
	if err == nil || p.idle() && ctx.Err() != context.Canceled {
		p.report(p.why(ctx, wrapProbe(err)))
	}
}

func wrapProbe(err error) error {
	if err != nil {
		return fmt.Errorf("probing kafka: %w", err)
	}
	return nil
}

// refresh reads the topic's partition count from the cluster metadata.
func (p *producer) refresh(ctx context.Context) error {
	res, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.cfg.Topic}})
	if err != nil {
		return fmt.Errorf("reading kafka metadata: %w", err)
	}
	for _, t := range res.Topics {
		if t.Name != p.cfg.Topic {
			continue
		}
		if t.Error != nil || len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s: %v (%d partitions)", p.cfg.Topic, t.Error, len(t.Partitions))
		}
		p.grow(len(t.Partitions))
		return nil
	}
	return fmt.Errorf("topic %s not found", p.cfg.Topic)
}
