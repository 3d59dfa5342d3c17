package edge

import (
	"cmp"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/conncap"
	"github.com/emostream/emostream/internal/setting"
)

// Defaults of Config (docs/operations.md, "Edges").
const (
	DefaultMaxConnections      = 100_000
	DefaultMaxPerNetwork       = 256
	DefaultMaxSubscriptions    = 16
	DefaultMaxControlLine      = 4096
	DefaultMaxPayload          = 1024
	DefaultConnectTimeout      = 5 * time.Second
	DefaultPingInterval        = 30 * time.Second
	DefaultMaxPingsOut         = 2
	DefaultWriteTimeout        = 5 * time.Second
	DefaultMaxPending          = 64 << 10
	DefaultMaxMatches          = 10_000
	DefaultRingSize            = 16
	DefaultMaxUpstreamRequests = 64
	DefaultUpstreamTimeout     = 2 * time.Second
	DefaultOccupancyInterval   = 5 * time.Second
)

// ErrConfig is wrapped by every error of New about its Config.
var ErrConfig = errors.New("edge: invalid config")

// Config describes an edge. Zero values are the documented defaults.
type Config struct {
	// Listener takes viewer connections (cmd binds it). Required.
	Listener net.Listener
	// TLSCert and TLSKey are PEM files; set both to serve wss:// on
	// Listener. Zero means plain ws://, right on loopback or behind a TLS
	// proxy.
	TLSCert, TLSKey string
	// NATSURL is the URL (several, comma-separated) of the NATS server the
	// edge reads from, its upstream: a leaf cluster, or the hub. Required.
	NATSURL string
	// NATSOptions are extra options of the upstream connection
	// (credentials, TLS).
	NATSOptions []nats.Option
	// Domain is the JetStream domain of the swarm stream as seen from
	// NATSURL: "hub" through a leaf cluster, "" on the hub itself.
	Domain string
	// ID names the edge in occupancy reports. Zero means the host name and
	// the listen port.
	ID string
	// AllowedOrigins are the browser origins that may connect; requests
	// without an Origin header (non-browser clients) always may. Zero
	// means any origin.
	AllowedOrigins []string
	// MaxConnections caps viewer connections. Zero means 100,000.
	MaxConnections int
	// MaxPerNetwork caps connections from one client network (/24 for IPv4,
	// /64 for IPv6), and once three quarters of MaxConnections are open a
	// network gets another only while it holds less than its share
	// (package conncap: the last slots are kept for networks that hold
	// few). Zero means 256, or MaxConnections if lower; above
	// MaxConnections it is refused. Loopback is not limited, unless
	// LimitLoopback.
	MaxPerNetwork int
	// LimitLoopback applies MaxPerNetwork and the shares to loopback peers
	// too, each 127.x.y.0/24 a network (tests play many networks there).
	// Zero exempts loopback: a local proxy or load generator.
	LimitLoopback bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed: a
	// viewer that comes through one (a TLS-terminating proxy or Ingress)
	// counts in the network of the right-most address there that is not a
	// trusted proxy itself (package clientip). Zero means none: a viewer's
	// network is always its TCP peer's, so all the viewers behind one
	// proxy are one network.
	TrustedProxies []netip.Prefix
	// MaxSubscriptions caps subscriptions per connection. Zero means 16.
	MaxSubscriptions int
	// MaxControlLine caps a protocol line. Zero means 4096 bytes.
	MaxControlLine int
	// MaxPayload caps a viewer's publish payload (requests). Zero means
	// 1024 bytes.
	MaxPayload int
	// ConnectTimeout is how long a viewer has for CONNECT after the
	// WebSocket handshake (for the handshake itself, twice this). Zero
	// means 5s.
	ConnectTimeout time.Duration
	// PingInterval is how often the edge pings viewers; MaxPingsOut
	// unanswered pings close the connection ("Stale Connection"). Zero
	// means 30s and 2.
	PingInterval time.Duration
	MaxPingsOut  int
	// WriteTimeout cuts off a viewer whose writes have waited this long,
	// checked on each PING (so a stalled viewer goes within PingInterval +
	// WriteTimeout, or once MaxPending bytes wait). Zero means 5s.
	WriteTimeout time.Duration
	// MaxPending cuts off a viewer once this many bytes wait for it. Zero
	// means 64 KiB.
	MaxPending int
	// MaxMatches caps the matches with viewers on this edge. Zero means
	// 10,000.
	MaxMatches int
	// RingSize is how many recent swarms per match the edge keeps to
	// answer "next" requests itself. Zero means 16.
	RingSize int
	// MaxUpstreamRequests caps direct gets in flight upstream: viewers'
	// requests, and the reads of a match's latest swarm into the cache
	// (primes), which hold at most half of them. Zero means 64.
	MaxUpstreamRequests int
	// UpstreamTimeout bounds one upstream direct get. Zero means 2s.
	UpstreamTimeout time.Duration
	// OccupancyInterval is how often the edge reports its viewers. Zero
	// means 5s; negative turns reports off.
	OccupancyInterval time.Duration
	// Registerer receives the edge's metrics. Nil means none.
	Registerer prometheus.Registerer
	// Logger receives the edge's log. Nil discards it.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if err := setting.First(ErrConfig, c.required()...); err != nil {
		return c, err
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(c.Listener.Addr().String())
		c.ID = cmp.Or(host, "edge") + "-" + port
	}
	c.MaxConnections = cmp.Or(c.MaxConnections, DefaultMaxConnections)
	c.MaxPerNetwork = cmp.Or(c.MaxPerNetwork, min(DefaultMaxPerNetwork, c.MaxConnections))
	c.MaxSubscriptions = cmp.Or(c.MaxSubscriptions, DefaultMaxSubscriptions)
	c.MaxControlLine = cmp.Or(c.MaxControlLine, DefaultMaxControlLine)
	c.MaxPayload = cmp.Or(c.MaxPayload, DefaultMaxPayload)
	c.ConnectTimeout = cmp.Or(c.ConnectTimeout, DefaultConnectTimeout)
	c.PingInterval = cmp.Or(c.PingInterval, DefaultPingInterval)
	c.MaxPingsOut = cmp.Or(c.MaxPingsOut, DefaultMaxPingsOut)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.MaxPending = cmp.Or(c.MaxPending, DefaultMaxPending)
	c.MaxMatches = cmp.Or(c.MaxMatches, DefaultMaxMatches)
	c.RingSize = cmp.Or(c.RingSize, DefaultRingSize)
	c.MaxUpstreamRequests = cmp.Or(c.MaxUpstreamRequests, DefaultMaxUpstreamRequests)
	c.UpstreamTimeout = cmp.Or(c.UpstreamTimeout, DefaultUpstreamTimeout)
	c.OccupancyInterval = cmp.Or(c.OccupancyInterval, DefaultOccupancyInterval)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, setting.First(ErrConfig, c.rules()...)
}

// required are the rules of the settings without a default.
func (c Config) required() []setting.Rule {
	return []setting.Rule{
		setting.Check("Listener", nil, c.Listener != nil, "want a bound listener"),
		setting.Check("TLSKey", setting.Text(c.TLSKey), (c.TLSCert == "") == (c.TLSKey == ""), "want both a certificate and a key, or neither"),
		setting.Check("NATSURL", c.NATSURL, c.NATSURL != "", "want the NATS URL of a leaf cluster or the hub"),
	}
}

// rules are the rules of the limits, with their defaults, in field order.
func (c Config) rules() []setting.Rule {
	rules := c.caps().Rules("MaxConnections", "MaxPerNetwork")
	return append(rules,
		setting.AtLeast("MaxPerNetwork", c.MaxPerNetwork, 0),
		setting.AtLeast("MaxSubscriptions", c.MaxSubscriptions, 0),
		setting.AtLeast("MaxControlLine", c.MaxControlLine, 0),
		setting.AtLeast("MaxPayload", c.MaxPayload, 0),
		setting.AtLeast("ConnectTimeout", c.ConnectTimeout, 0),
		setting.AtLeast("PingInterval", c.PingInterval, 0),
		setting.AtLeast("MaxPingsOut", c.MaxPingsOut, 0),
		setting.AtLeast("WriteTimeout", c.WriteTimeout, 0),
		setting.AtLeast("MaxPending", c.MaxPending, 0),
		setting.AtLeast("MaxMatches", c.MaxMatches, 0),
		setting.AtLeast("RingSize", c.RingSize, 0),
		setting.AtLeast("MaxUpstreamRequests", c.MaxUpstreamRequests, 0),
		setting.AtLeast("UpstreamTimeout", c.UpstreamTimeout, 0),
	)
}

// caps are the connection caps (conncap).
func (c Config) caps() conncap.Caps {
	return conncap.Caps{Total: c.MaxConnections, PerNetwork: c.MaxPerNetwork}
}
