package ingest

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/wire"
)

// metrics are the stage's Prometheus series, all named emostream_ingest_*.
type metrics struct {
	accepted       prometheus.Counter
	rejected       map[string]prometheus.Counter
	requestEvents  prometheus.Histogram
	produceSeconds prometheus.Histogram
	batchEvents    prometheus.Histogram
	produceErrors  prometheus.Counter
	lost           prometheus.Counter
	buffered       atomic.Int64 // events queued for Kafka or in flight
}

func newMetrics(reg prometheus.Registerer, ready func() error) (*metrics, error) {
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_ingest_requests_rejected_total",
		Help: "Requests refused, by error code; none of their events was written."}, []string{"code"})
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_ingest_events_accepted_total",
			Help: "Events answered 202."}),
		rejected: map[string]prometheus.Counter{},
		requestEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "emostream_ingest_request_events",
			Help: "Events per accepted request.", Buckets: prometheus.ExponentialBuckets(1, 4, 6)}),
		produceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "emostream_ingest_kafka_produce_seconds",
			Help: "Latency of Kafka produce requests (acks from all in-sync replicas), with the embedded broker's group fsync.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "emostream_ingest_kafka_batch_events",
			Help: "Records per Kafka produce request.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		produceErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_ingest_kafka_produce_errors_total",
			Help: "Failed Kafka produce requests."}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_ingest_events_lost_total",
			Help: "Events answered 202 in --ack=buffered mode that could not be written before shutdown."}),
	}
	// Every code of the client error table gets its counter, but
	// too_many_connections: it refuses a connection before any request,
	// counted in connections_refused_total.
	for _, e := range wire.ClientErrors {
		if e.Code != wire.CodeTooManyConnections {
			m.rejected[e.Code] = rejected.WithLabelValues(e.Code)
		}
	}
	readyGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emostream_ingest_kafka_ready",
		Help: "1 when Kafka answered recently (what /readyz reports)."}, func() float64 {
		if ready() == nil {
			return 1
		}
		return 0
	})
	buffered := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emostream_ingest_buffered_events",
		Help: "Events waiting in ingest for Kafka: queued for a produce or in one (at most 200,000)."},
		func() float64 { return float64(m.buffered.Load()) })
	for _, c := range []prometheus.Collector{m.accepted, rejected, m.requestEvents, m.produceSeconds, m.batchEvents, m.produceErrors, m.lost, readyGauge, buffered} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ingest: registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observeProduce(d time.Duration, records int, err error) {
	if err != nil {
		m.produceErrors.Inc()
		return
	}
	m.produceSeconds.Observe(d.Seconds())
	m.batchEvents.Observe(float64(records))
}

func (m *metrics) reject(code string) {
	if c := m.rejected[code]; c != nil {
		c.Inc()
	}
}
