package processor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/wire"
)

// metrics are the processor's Prometheus series.
type metrics struct {
	closed     *prometheus.CounterVec // by closed_by
	swarms     prometheus.Counter
	rejected   prometheus.Counter
	partials   *prometheus.CounterVec // by kind: merged, late, redelivered, bad
	lag        prometheus.Histogram
	partitions prometheus.Gauge

	publishErrors                    *prometheus.CounterVec // by reason
	states, openWindows, openEntries prometheus.Gauge
	stateLoads, stateEvictions       prometheus.Counter
	held                             prometheus.Counter
	videoDropped                     prometheus.Counter

	timelineRecords                                   *prometheus.CounterVec // by kind
	timelineLoads, timelineErrors, timelineBackfilled prometheus.Counter
	occupancyReports                                  *prometheus.CounterVec // by result
	occupancyEdges, occupancyEntries                  prometheus.Gauge
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
		publishErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_processor_publish_errors_total",
			Help: "Swarms that could not be published, by reason (too_large stops the processor; unencodable is dropped)."}, []string{"reason"}),
		states: prometheus.NewGauge(prometheus.GaugeOpts{Name: "emostream_processor_match_states",
			Help: "Match states (last swarm) cached in the session; capped by MaxMatchStates."}),
		stateLoads: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_match_state_loads_total",
			Help: "Match states read back from the swarm stream."}),
		stateEvictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_match_state_evictions_total",
			Help: "Match states dropped from the cache at its cap (read back when needed again)."}),
		openWindows: prometheus.NewGauge(prometheus.GaugeOpts{Name: "emostream_processor_open_windows",
			Help: "Windows open, waiting for partials; capped by MaxOpenWindows."}),
		openEntries: prometheus.NewGauge(prometheus.GaugeOpts{Name: "emostream_processor_open_entries",
			Help: "Partials merged into the open windows."}),
		held: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_held_partials_total",
			Help: "Partials whose counts for a match were held for its next window: its swarm had reached MaxSwarmBytes."}),
		videoDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_video_moves_dropped_total",
			Help: "Events whose program-time window a swarm does not carry: the first partial of a swarm, over MaxSwarmBytes with its video_windows, is taken without them."}),
		timelineRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_processor_timeline_records_total",
			Help: "Records stored in the timeline stream, by kind: window, late, video, rollup, moment."}, []string{"kind"}),
		timelineLoads: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_timeline_loads_total",
			Help: "Match timelines read back from the timeline stream."}),
		timelineErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_timeline_errors_total",
			Help: "Timeline reads or writes that failed (the match's timeline is read back and completed at its next window)."}),
		timelineBackfilled: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_processor_timeline_backfilled_total",
			Help: "Window records written late from the swarm stream (after a crash or a takeover)."}),
		occupancyReports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_processor_occupancy_reports_total",
			Help: "Edge occupancy reports, by result: applied, clamped (some counts over what one edge can hold, cut to it), partial (some counts over the bound or invalid), over_edges, bad."}, []string{"result"}),
		occupancyEdges: prometheus.NewGauge(prometheus.GaugeOpts{Name: "emostream_processor_occupancy_edges",
			Help: "Edges whose occupancy reports are kept; capped by MaxEdges."}),
		occupancyEntries: prometheus.NewGauge(prometheus.GaugeOpts{Name: "emostream_processor_occupancy_entries",
			Help: "(edge, match) viewer counts kept; capped by MaxOccupancy."}),
	}
	for _, c := range []prometheus.Collector{m.closed, m.swarms, m.rejected, m.partials, m.lag, m.partitions,
		m.publishErrors, m.states, m.stateLoads, m.stateEvictions, m.openWindows, m.openEntries, m.held, m.videoDropped,
		m.timelineRecords, m.timelineLoads, m.timelineErrors, m.timelineBackfilled,
		m.occupancyReports, m.occupancyEdges, m.occupancyEntries} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("processor: registering metrics: %w", err)
		}
	}
	if err := recovery.Register(reg, panicOccupancy); err != nil {
		return nil, fmt.Errorf("processor: registering metrics: %w", err)
	}
	m.declare()
	return m, nil
}

// declare gives every label value of the counters a series at 0 from the
// start, so that an alert on an increase sees the first one.
func (m *metrics) declare() {
	for c, values := range map[*prometheus.CounterVec][]string{
		m.closed:           {wire.ClosedByAllPartitions, wire.ClosedByDeadline, closedByCap},
		m.partials:         {"merged", "late", "redelivered", "bad"},
		m.publishErrors:    {"too_large", reasonUnencodable},
		m.timelineRecords:  {"window", "late", "rollup", "moment"},
		m.occupancyReports: {"applied", "clamped", "partial", "over_edges", "bad"},
	} {
		for _, v := range values {
			c.WithLabelValues(v)
		}
	}
}

// reasonUnencodable is the publish_errors_total reason of a swarm that
// cannot be encoded, dropped.
const reasonUnencodable = "unencodable"

// panicOccupancy is the component of emostream_panics_total for the
// handler of the edges' occupancy reports (a NATS subscription): a panic
// there drops only that report.
const panicOccupancy = "processor_occupancy"
