package processor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the processor's Prometheus series.
type metrics struct {
	closed     *prometheus.CounterVec // by closed_by
	swarms     prometheus.Counter
	rejected   prometheus.Counter
	partials   *prometheus.CounterVec // by kind: merged, late, redelivered, bad
	lag        prometheus.Histogram
	partitions prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_processor_windows_closed_total",
			Help: "Windows closed, by the rule that closed them."}, []string{"closed_by"}),
		swarms: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_swarms_published_total",
			Help: "Swarms stored in the swarm stream."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_duplicate_publishes_total",
			Help: "Swarm publishes the stream refused because the window or a later one was already stored."}),
		partials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_processor_partials_total",
			Help: "Partials received: merged in their window, late (folded into the next), redelivered, bad."}, []string{"kind"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "emostream_processor_window_delivery_lag_seconds",
			Help:    "Swarm publish time minus window end.",
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .4, .5, .75, 1, 2, 5, 10}}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "emostream_processor_partitions",
			Help: "Kafka partitions whose partials each window waits for."}),
	}
	for _, c := range []prometheus.Collector{m.closed, m.swarms, m.rejected, m.partials, m.lag, m.partitions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("processor: registering metrics: %w", err)
		}
	}
	return m, nil
}
