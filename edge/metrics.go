package edge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/recovery"
)

// metrics are the edge's Prometheus metrics (docs/operations.md, "Edges").
type metrics struct {
	conns, prefixes, matches, subs, inflight prometheus.Gauge
	accepted, swarms, unwatched, dups        prometheus.Counter
	dropped                                  prometheus.Counter
	delivered                                prometheus.Counter
	refused, closed, violations, requests    *prometheus.CounterVec
	primes                                   *prometheus.CounterVec
	reports                                  prometheus.Counter
	broadcast                                prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) *metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "emostream", Subsystem: "edge", Name: name, Help: help})
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "emostream", Subsystem: "edge", Name: name, Help: help})
	}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "emostream", Subsystem: "edge", Name: name, Help: help}, labels)
	}
	m := &metrics{
		conns:      g("connections", "Viewer connections open."),
		prefixes:   g("client_networks", "Client networks (/24, /64) with open connections (bounded by connections)."),
		matches:    g("matches", "Matches (and the wildcard) with viewers on this edge (bounded by MaxMatches)."),
		subs:       g("subscriptions", "Viewer subscriptions (bounded by connections × MaxSubscriptions)."),
		inflight:   g("upstream_requests_in_flight", "Direct gets waiting for the upstream (bounded by MaxUpstreamRequests)."),
		accepted:   c("connections_accepted_total", "Viewer connections accepted."),
		swarms:     c("swarms_received_total", "Live messages received from the upstream (every live match's, on one subscription)."),
		dropped:    c("swarms_dropped_total", "Live messages dropped before delivery: the workers fell behind by 64 MiB (the caches are read again)."),
		unwatched:  c("swarms_unwatched_total", "Live messages of matches nobody watches on this edge, dropped."),
		dups:       c("swarms_duplicate_total", "Live swarms received again (sequence not newer), not delivered."),
		delivered:  c("messages_delivered_total", "Messages written to viewers."),
		refused:    cv("connections_refused_total", "Connections refused, by reason.", "reason"),
		closed:     cv("connections_closed_total", "Connections closed, by reason.", "reason"),
		violations: cv("permission_violations_total", "Viewer operations refused with a permissions error.", "op"),
		requests:   cv("requests_total", "Viewer requests (latest, next) by how they were answered.", "kind", "answer"),
		primes:     cv("primes_total", "Reads of a match's latest swarm into the edge's cache, by result: read, busy (no slot: not started), canceled (the match lost its viewers), failed.", "result"),
		reports:    c("occupancy_reports_total", "Occupancy reports published."),
		broadcast: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "emostream", Subsystem: "edge",
			Name: "broadcast_seconds", Help: "Time to write one live message to all its viewers on this edge (framing and non-blocking writes).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
	}
	// Declared, not registered: "emostream up" wraps each edge's registerer
	// with its edge label, which the process-wide counter cannot take; the
	// command registers it (cmd/emostream, package stack through ingest).
	recovery.Declare(panicHTTP, panicViewer, panicUpstream, panicKeepalive)
	if r != nil {
		r.MustRegister(m.conns, m.prefixes, m.matches, m.subs, m.inflight, m.accepted, m.swarms, m.dropped, m.unwatched, m.dups, m.delivered,
			m.refused, m.closed, m.violations, m.requests, m.primes, m.reports, m.broadcast)
	}
	m.declare()
	return m
}

// declare gives the label values that alerts watch a series at 0 from the
// start, so that an alert on an increase sees the first one.
func (m *metrics) declare() {
	for _, reason := range refusedFor {
		m.refused.WithLabelValues(reason)
	}
	m.refused.WithLabelValues("origin")
	for _, reason := range []string{"client", "slow_consumer", "stale", "connect_timeout", "protocol"} {
		m.closed.WithLabelValues(reason)
	}
	for _, result := range []string{"read", "busy", "limited", "canceled", "failed"} {
		m.primes.WithLabelValues(result)
	}
	for _, kind := range []string{"latest", "next"} {
		for _, answer := range []string{"cache", "upstream", "busy"} {
			m.requests.WithLabelValues(kind, answer)
		}
	}
}
