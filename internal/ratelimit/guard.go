package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/conncap"
	"github.com/emostream/emostream/internal/setting"
)

// Defaults of GuardConfig: an ops listener is scraped by a few Prometheus
// servers every 15 s and probed by Kubernetes every few seconds, so these
// are far above what its honest clients send, and still bound what a
// flood costs (a /metrics answer gathers every series).
const (
	// DefaultRate is a client's requests per second after its burst.
	DefaultRate = 50
	// DefaultBurst is the requests a client may send at once.
	DefaultBurst = 100
	// DefaultListenerRate is the listener's requests per second from all
	// clients together, after its burst.
	DefaultListenerRate = 500
	// DefaultListenerBurst is the requests all clients may send at once.
	DefaultListenerBurst = 1000
	// DefaultMaxClients is about the most client buckets held.
	DefaultMaxClients = 4096
	// DefaultMaxConnections is the most open connections.
	DefaultMaxConnections = 64
	// DefaultMaxPerNetwork is the most open connections of one client.
	DefaultMaxPerNetwork = 16
)

// GuardConfig is an ops listener's limits. A client is the TCP peer's
// address, an IPv6 one's /64 (one host's share); never a proxy's
// X-Forwarded-For, which Prometheus and probes do not send.
type GuardConfig struct {
	// Component labels the guard's series (emostream_ops_…{component}).
	Component string
	// Rate is a client's requests per second after Burst. Zero means
	// DefaultRate, less than zero no per-client limit.
	Rate float64
	// Burst is the requests a client may send at once. Zero means
	// DefaultBurst.
	Burst int
	// ListenerRate and ListenerBurst limit the requests of all clients
	// together. Zero means DefaultListenerRate and DefaultListenerBurst,
	// a ListenerRate below zero no such limit.
	ListenerRate  float64
	ListenerBurst int
	// MaxClients is about the most client buckets held; past it full
	// buckets are dropped, then arbitrary ones. Zero means
	// DefaultMaxClients.
	MaxClients int
	// MaxConnections and MaxPerNetwork cap the open connections (see
	// conncap: past three quarters of MaxConnections a client gets another only
	// below its share). Zero means DefaultMaxConnections and
	// DefaultMaxPerNetwork (at most MaxConnections).
	MaxConnections, MaxPerNetwork int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (c GuardConfig) withDefaults() GuardConfig {
	c.Rate = or(c.Rate, DefaultRate)
	c.Burst = or(c.Burst, DefaultBurst)
	c.ListenerRate = or(c.ListenerRate, DefaultListenerRate)
	c.ListenerBurst = or(c.ListenerBurst, DefaultListenerBurst)
	c.MaxClients = or(c.MaxClients, DefaultMaxClients)
	c.MaxConnections = or(c.MaxConnections, DefaultMaxConnections)
	c.MaxPerNetwork = or(c.MaxPerNetwork, min(DefaultMaxPerNetwork, c.MaxConnections))
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Rules are the rules of c for a Config's validate table (package
// setting), its fields named under parent: finite rates, no negative
// burst or bound, caps that add up (conncap).
func (c GuardConfig) Rules(parent string) []setting.Rule {
	d := c.withDefaults()
	return setting.Under(parent, append(d.conns().Rules("MaxConnections", "MaxPerNetwork"),
		setting.Finite("Rate", c.Rate), setting.Finite("ListenerRate", c.ListenerRate),
		setting.AtLeast("Burst", c.Burst, 0), setting.AtLeast("ListenerBurst", c.ListenerBurst, 0),
		setting.AtLeast("MaxClients", c.MaxClients, 0))...)
}

func (c GuardConfig) conns() conncap.Caps {
	return conncap.Caps{Total: c.MaxConnections, PerNetwork: c.MaxPerNetwork}
}

func or[T int | float64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Guard limits an ops listener's requests, per client and in all, and its
// connections (Listener). It is safe for concurrent use.
type Guard struct {
	cfg      GuardConfig
	clients  *Limiter[netip.Prefix]
	listener *Limiter[struct{}]
	limited  *prometheus.CounterVec // by scope: client, listener
	refused  prometheus.Counter     // connections over a cap
	conns    connCount
}

// ErrConfig is wrapped by the errors of a GuardConfig that does not hold.
var ErrConfig = errors.New("ratelimit: invalid config")

// NewGuard is the guard of cfg's limits, or an error wrapping ErrConfig
// that names the setting that is wrong.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if err := setting.First(ErrConfig, cfg.Rules("GuardConfig")...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	labels := prometheus.Labels{"component": cfg.Component}
	return &Guard{cfg: cfg,
		clients:  New[netip.Prefix](cfg.Rate, cfg.Burst, cfg.MaxClients),
		listener: New[struct{}](cfg.ListenerRate, cfg.ListenerBurst, 1),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_ops_rate_limited_total",
			Help:        "Requests to an ops listener refused 429: over their client's rate (scope client) or the listener's (scope listener).",
			ConstLabels: labels}, []string{"scope"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_ops_connections_refused_total",
			Help:        "Connections to an ops listener refused 503 and closed: over the listener's or their client's cap.",
			ConstLabels: labels}),
		conns: connCount{caps: cfg.conns(), byClient: map[netip.Prefix]int{}},
	}, nil
}

// Register registers the guard's series on reg.
func (g *Guard) Register(reg prometheus.Registerer) error {
	g.limited.WithLabelValues(ScopeClient)
	g.limited.WithLabelValues(ScopeListener)
	labels := prometheus.Labels{"component": g.cfg.Component}
	for _, c := range []prometheus.Collector{g.limited, g.refused,
		g.clients.Gauge(prometheus.GaugeOpts{Name: "emostream_ops_rate_limit_clients", ConstLabels: labels,
			Help: "Client buckets an ops listener's rate limit holds (bounded by about MaxClients; full buckets are dropped)."}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emostream_ops_connections_open", ConstLabels: labels,
			Help: "Open connections of an ops listener (bounded by MaxConnections)."}, func() float64 { return float64(g.conns.count()) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("ratelimit: registering the %s ops guard: %w", g.cfg.Component, err)
		}
	}
	return nil
}

// client is the bucket of address a: itself, or an IPv6 address's /64.
func client(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 32
	}
	p, _ := a.Prefix(bits) // the zero Addr (no IP peer) is the zero Prefix: one shared bucket
	return p
}

// Probe reports whether path is a health probe's, /healthz or /readyz:
// answered from state at hand, at the cost of a 429, so refusing it
// saves nothing and charges it to no bucket. Were probes charged, a
// flood from many addresses (the listener's budget) or from the
// kubelet's own (a mesh sidecar every request comes through, a
// host-network pod) would fail the liveness probes and restart the pod.
func Probe(path string) bool { return path == "/healthz" || path == "/readyz" }

// The limits that refuse a request, as Allow returns them and the scope
// label of emostream_ops_rate_limited_total says them.
const (
	ScopeClient   = "client"   // its client's rate
	ScopeListener = "listener" // all clients' together
)

// Allow charges a request of address a for path to its client and to the
// listener, but for a probe's (Probe), and returns "". When either has no
// token left it charges neither and returns which refused it
// (ScopeClient, ScopeListener) and how long until it would pass.
func (g *Guard) Allow(a netip.Addr, path string) (scope string, wait time.Duration) {
	if Probe(path) {
		return "", 0
	}
	now, c := g.cfg.Now(), client(a)
	if g.clients.Enabled() {
		if ok, wait := g.clients.Take(c, 1, now); !ok {
			g.limited.WithLabelValues(ScopeClient).Inc()
			return ScopeClient, wait
		}
	}
	if g.listener.Enabled() {
		if ok, wait := g.listener.Take(struct{}{}, 1, now); !ok {
			g.clients.Give(c, 1) // not this client's doing
			g.limited.WithLabelValues(ScopeListener).Inc()
			return ScopeListener, wait
		}
	}
	return "", 0
}

// Refusal is the Retry-After of a request of address a that scope refused
// after wait, in whole seconds, and the one line that says which limit:
// the client's own (slow it down) or all clients' (look for a flood).
func Refusal(a netip.Addr, scope string, wait time.Duration) (retryAfter int, msg string) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	if scope == ScopeListener {
		return secs, fmt.Sprintf("too many requests to this ops listener from all its clients together, not from %s alone: retry after %d s", client(a), secs)
	}
	return secs, fmt.Sprintf("too many requests to this ops listener from %s: retry after %d s", client(a), secs)
}

// HTTP wraps an ops listener's handler: a request over a limit (Allow) is
// answered 429 with Retry-After and a line of text, and h never sees it.
func (g *Guard) HTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := peer(r.RemoteAddr)
		scope, wait := g.Allow(a, r.URL.Path)
		if scope == "" {
			h.ServeHTTP(w, r)
			return
		}
		secs, msg := Refusal(a, scope, wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(msg + "\n"))
	})
}

// peer is the address of a net/http RemoteAddr; zero if it has none.
func peer(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		host, _, _ := net.SplitHostPort(remote)
		a, _ := netip.ParseAddr(host)
		return a
	}
	return ap.Addr()
}

// connCount is the open connections, in all and per client.
type connCount struct {
	caps     conncap.Caps
	mu       sync.Mutex
	open     int
	byClient map[netip.Prefix]int // only clients with open connections: bounded by caps.Total
}

func (c *connCount) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}
