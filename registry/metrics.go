package registry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/recovery"
)

type metrics struct {
	auto prometheus.Counter
}

// newMetrics registers the registry's metrics on reg.
func newMetrics(reg prometheus.Registerer, r *Registry) (*metrics, error) {
	m := &metrics{auto: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "emostream_registry_auto_matches_total",
		Help: "Matches this process created live through --auto-matches (development mode).",
	})}
	cs := []prometheus.Collector{m.auto}
	for _, s := range []State{Scheduled, Live, Ended} {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "emostream_registry_matches",
			Help:        "Matches in the registry's loaded copy, by state.",
			ConstLabels: prometheus.Labels{"state": string(s)},
		}, func() float64 { return float64(r.count(s)) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, recovery.Register(reg, panicWatch)
}
