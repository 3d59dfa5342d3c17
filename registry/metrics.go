package registry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/recovery"
)

type metrics struct {
	auto  prometheus.Counter
	swept *prometheus.CounterVec
}

// newMetrics registers the registry's metrics on reg.
func newMetrics(reg prometheus.Registerer, r *Registry) (*metrics, error) {
	m := &metrics{auto: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "emostream_registry_auto_matches_total",
		Help: "Matches this process created live through --auto-matches (development mode).",
	}), swept: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "emostream_registry_auto_matches_swept_total",
		Help: "Auto-admitted matches this process ended as idle (action=ended) or removed after their retention (action=removed).",
	}, []string{"action"})}
	cs := []prometheus.Collector{m.auto, m.swept}
	for _, origin := range []string{"operator", "auto"} {
		for _, s := range []State{Scheduled, Live, Ended} {
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "emostream_registry_matches",
				Help:        "Matches in the registry's loaded copy, by origin (operator-created or auto-admitted) and state.",
				ConstLabels: prometheus.Labels{"origin": origin, "state": string(s)},
			}, func() float64 { return float64(r.count(origin == "auto", s)) }))
		}
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, recovery.Register(reg, panicWatch)
}

// count is the number of loaded matches of one origin in state s.
func (r *Registry) count(auto bool, s State) int {
	if snap := r.snap.Load(); snap != nil {
		return snap.Count(auto, s)
	}
	return 0
}
