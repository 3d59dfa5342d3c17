package bridge

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/wire"
)

// metrics are the bridge's Prometheus metrics, labelled by partition.
type metrics struct {
	events, late, duplicates, bad   *prometheus.CounterVec
	published, fenced, regressions  *prometheus.CounterVec
	splits, history, retimed        *prometheus.CounterVec
	publishErrors                   *prometheus.CounterVec // by partition and reason
	dedupNotRemembered              *prometheus.CounterVec // by partition and reason
	lag, dedupEntries, dedupHorizon *prometheus.GaugeVec
	dedupCapacity, dedupBytes       *prometheus.GaugeVec
	openPartialBytes, rereading     *prometheus.GaugeVec
	closeDelay                      prometheus.Histogram
}

// notRememberedReasons label dedup_not_remembered_total, by dedup reason.
var notRememberedReasons = [reasons]string{full: "full", userCap: "user_cap"}

// Reasons of publish_errors_total.
const (
	reasonTooLarge = "too_large" // the partial exceeds a server's limit
	reasonFenced   = "fenced"    // another bridge published on the partition
	reasonOther    = "other"     // timeouts, lost connections, refusals
)

func newMetrics(r prometheus.Registerer) *metrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "emostream", Subsystem: "bridge", Name: name, Help: help}, []string{"partition"}))
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "emostream", Subsystem: "bridge", Name: name, Help: help}, []string{"partition"}))
	}
	return &metrics{
		events:      counter("events_total", "Events counted in published partials."),
		late:        counter("late_events_total", "Events counted in a later window than their own."),
		duplicates:  counter("duplicates_total", "Events dropped because their event_id repeated within the horizon."),
		bad:         counter("bad_records_total", "Kafka records that could not be decoded."),
		published:   counter("partials_published_total", "Partials acknowledged by JetStream, empty ones included."),
		fenced:      counter("fenced_total", "Publishes refused because another bridge published on the partition."),
		regressions: counter("offset_regressions_total", "Times the Kafka log ended before the resume offset."),
		history:     counter("history_skipped_records_total", "Records left uncounted because the partition had no partial in the store and they were received before the fresh-start lookback."),
		splits:      counter("partial_splits_total", "Partials closed before their window's end because the next key would have outgrown the size bound."),
		retimed:     counter("retimed_records_total", "Records counted as received when the bridge read them, not at their received_at: negative, or more than one window ahead of the bridge's clock."),
		publishErrors: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "emostream", Subsystem: "bridge", Name: "publish_errors_total",
			Help: "Partial publishes that failed, by reason: too_large, fenced, other."}, []string{"partition", "reason"})),
		dedupNotRemembered: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "emostream", Subsystem: "bridge", Name: "dedup_not_remembered_total",
			Help: "Events with an event_id counted but not remembered, so a retry of them may count twice, by reason: full (the partition's dedup memory), user_cap (the user's ids within the horizon)."},
			[]string{"partition", "reason"})),
		lag:              gauge("consumer_lag", "Kafka high watermark minus the next offset to read."),
		dedupEntries:     gauge("dedup_entries", "Event ids remembered for dedup."),
		dedupHorizon:     gauge("dedup_horizon_seconds", "How long in receive time every remembered event_id is remembered: the configured horizon, which no load shortens."),
		dedupCapacity:    gauge("dedup_capacity", "Event ids the partition's dedup memory holds at most."),
		dedupBytes:       gauge("dedup_bytes", "Memory the partition's dedup set holds."),
		openPartialBytes: gauge("open_partial_bytes", "Upper bound on the encoding of the open partial (the split bound caps it)."),
		rereading:        gauge("dedup_reread_records", "Records left to re-read for the dedup set before the partition counts again, after a start or a rebalance (consumer_lag does not show them)."),
		closeDelay: register(r, prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "emostream", Subsystem: "bridge", Name: "close_delay_seconds",
			Help:    "Time from a window's end to its partial's acknowledgement (live windows only).",
			Buckets: []float64{.01, .025, .05, .1, .15, .2, .25, .3, .4, .5, .75, 1, 2, 5}})),
	}
}

// register registers c, or returns the collector already registered under
// its name (two bridges in one process share their metrics).
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	err := r.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if prev, ok := are.ExistingCollector.(C); ok {
			return prev
		}
	}
	return c
}

// declare gives each counter of partition label a series at 0 when the
// bridge takes the partition, so that an alert on its increase sees the
// first one.
func (m *metrics) declare(label string) {
	for _, c := range []*prometheus.CounterVec{m.events, m.late, m.duplicates, m.bad, m.published, m.fenced,
		m.regressions, m.splits, m.history, m.retimed} {
		c.WithLabelValues(label)
	}
	for _, r := range []string{reasonTooLarge, reasonFenced, reasonOther} {
		m.publishErrors.WithLabelValues(label, r)
	}
	for _, r := range notRememberedReasons {
		m.dedupNotRemembered.WithLabelValues(label, r)
	}
}

// partial records the partial p, acknowledged by JetStream at now.
func (m *metrics) partial(p *wire.Partial, now time.Time) {
	l := strconv.Itoa(int(p.Partition))
	m.published.WithLabelValues(l).Inc()
	m.events.WithLabelValues(l).Add(float64(p.Counts.Total()))
	m.late.WithLabelValues(l).Add(float64(p.Late))
	if p.More {
		m.splits.WithLabelValues(l).Inc()
	}
	m.duplicates.WithLabelValues(l).Add(float64(p.Duplicates))
	m.bad.WithLabelValues(l).Add(float64(p.Bad))
	if d := now.Sub(time.UnixMilli(wire.WindowEnd(p.WindowStartMs, p.WindowMs))); d < time.Duration(p.WindowMs)*time.Millisecond {
		m.closeDelay.Observe(d.Seconds())
	}
}

// forget removes the gauges of a partition this bridge no longer owns.
func (m *metrics) forget(partition int32) {
	l := strconv.Itoa(int(partition))
	m.lag.DeleteLabelValues(l)
	m.dedupEntries.DeleteLabelValues(l)
	m.dedupHorizon.DeleteLabelValues(l)
	m.dedupCapacity.DeleteLabelValues(l)
	m.dedupBytes.DeleteLabelValues(l)
	m.openPartialBytes.DeleteLabelValues(l)
	m.rereading.DeleteLabelValues(l)
}
