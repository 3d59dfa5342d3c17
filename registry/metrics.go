package registry

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/recovery"
)

type metrics struct {
	auto  prometheus.Counter
	swept *prometheus.CounterVec
	bytes prometheus.Gauge
}

// newMetrics registers the registry's metrics on reg, the matches' gauges
// counting with count. Metrics already registered on reg by a Late that
// holds this registry (Late.Register) are reused: the Late's gauges read
// the registry once it is opened.
func newMetrics(reg prometheus.Registerer, count func(auto bool, s State) int) (*metrics, error) {
	m := &metrics{auto: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "emostream_registry_auto_matches_total",
		Help: "Matches this process created live through --auto-matches (development mode).",
	}), swept: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "emostream_registry_auto_matches_swept_total",
		Help: "Auto-admitted matches this process ended as idle (action=ended) or removed after their retention (action=removed).",
	}, []string{"action"})}
	m.bytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "emostream_registry_bucket_bytes",
		Help: "Bytes the match registry's bucket holds (matches and recent removals' markers), as last read by a process that purges the markers; its bound is 4 values of 4 KiB a match of MaxMatches.",
	})
	var err error
	if m.bytes, err = register(reg, m.bytes); err != nil {
		return nil, err
	}
	if m.auto, err = register(reg, m.auto); err != nil {
		return nil, err
	}
	if m.swept, err = register(reg, m.swept); err != nil {
		return nil, err
	}
	for _, origin := range []string{"operator", "auto"} {
		for _, s := range []State{Scheduled, Live, Ended} {
			if _, err := register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "emostream_registry_matches",
				Help:        "Matches in the registry's loaded copy, by origin (operator-created or auto-admitted) and state.",
				ConstLabels: prometheus.Labels{"origin": origin, "state": string(s)},
			}, func() float64 { return float64(count(origin == "auto", s)) })); err != nil {
				return nil, err
			}
		}
	}
	return m, recovery.Register(reg, panicWatch)
}

// register registers c on reg, or returns the collector of the same
// description already registered there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if prev, ok := are.ExistingCollector.(C); ok {
			return prev, nil
		}
	}
	return c, err
}

// count is the number of loaded matches of one origin in state s.
func (r *Registry) count(auto bool, s State) int {
	if snap := r.snap.Load(); snap != nil {
		return snap.Count(auto, s)
	}
	return 0
}
