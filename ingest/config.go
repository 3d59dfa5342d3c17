package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/conncap"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Defaults of Config, the values its zero fields stand for.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultBroker          = "127.0.0.1:9092"
	DefaultBodyLimit       = 1 << 20
	DefaultUserRate        = 20     // events/s per user_id
	DefaultUserBurst       = 100    // events
	DefaultIPRate          = 10_000 // events/s per client IP
	DefaultIPBurst         = 20_000 // events
	DefaultMaxBuckets      = 100_000
	DefaultReadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultProduceTimeout  = 5 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	DefaultMaxBatchBytes   = 900 << 10
	DefaultMaxInFlight     = 2
	DefaultMaxBuffered     = 200_000

	// Connections and client networks (docs/api.md, "Limits").
	DefaultMaxConnections    = 10_000 // or fewer: see Config.MaxConnections
	DefaultMaxPerNetwork     = 4_096
	DefaultFDReserve         = 1_024 // file descriptors left to Kafka, NATS, the store and listeners
	DefaultIPPrefixV4        = 24
	DefaultIPPrefixV6        = 64
	minDefaultMaxConnections = 64
)

// AckMode says when POST /v1/emojis answers 202.
type AckMode string

const (
	// AckAll answers once Kafka acknowledged the request's events from all
	// in-sync replicas. It is the default.
	AckAll AckMode = "all"
	// AckBuffered answers once the events are in the producer's buffer; a
	// crash may lose the last flush interval.
	AckBuffered AckMode = "buffered"
)

// Errors of New and Run.
var (
	ErrConfig = errors.New("ingest: invalid config")
	ErrClosed = errors.New("ingest: producer closed")
)

// Config configures a Server. Every zero value means the documented default.
type Config struct {
	// Listener is the bound listener the API is served on. Nil means a new
	// one on DefaultListen.
	Listener net.Listener
	// KafkaBrokers are the Kafka bootstrap addresses. Empty means
	// DefaultBroker.
	KafkaBrokers []string
	// Topic is the events topic. Empty means wire.DefaultTopic.
	Topic string
	// KafkaSecurity is how the producer connects to Kafka (TLS, SASL). The
	// zero value is plaintext without authentication.
	KafkaSecurity kafkaconn.Security
	kafka         kafkaconn.Conn // KafkaSecurity, built by withDefaults
	// Ack is when a request is answered. Empty means AckAll.
	Ack AckMode
	// FlushInterval is the longest an event waits in the producer's buffer.
	// Zero means wire.DefaultFlushInterval.
	FlushInterval time.Duration
	// Window is the counting window length. Zero means wire.DefaultWindow.
	Window time.Duration
	// Emojis is the allow-list. Empty means wire.DefaultEmojis.
	Emojis []string
	// SwarmThreshold is served in GET /v1/config. Zero means
	// wire.DefaultSwarmThreshold.
	SwarmThreshold int64
	// WebSocketURLs are the NATS WebSocket URLs served in GET /v1/config.
	WebSocketURLs []string

	// UserRate is the sustained events/s allowed per user_id. Zero means
	// DefaultUserRate; negative turns the per-user limit off.
	UserRate float64
	// UserBurst is the per-user bucket size in events. Zero means
	// DefaultUserBurst (at least UserRate).
	UserBurst int
	// IPRate is the sustained events/s allowed per client IP. Zero means
	// DefaultIPRate; negative turns the per-IP limit off.
	IPRate float64
	// IPBurst is the per-IP bucket size in events. Zero means
	// DefaultIPBurst (at least IPRate).
	IPBurst int
	// MaxBuckets bounds each limiter's memory: past it, idle buckets are
	// evicted first, then arbitrary ones. Zero means DefaultMaxBuckets.
	MaxBuckets int
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	// Empty means none: the client IP is always the TCP peer.
	TrustedProxies []netip.Prefix

	// BodyLimit is the largest request body in bytes, as sent and, for a
	// gzip body, once inflated. Zero means DefaultBodyLimit.
	BodyLimit int
	// AcceptGzip accepts bodies with Content-Encoding gzip (one layer),
	// inflated as a stream and refused with 413 as soon as they pass
	// BodyLimit. False, the default, answers them 415 like every other
	// coding.
	AcceptGzip bool

	// IPPrefixV4 and IPPrefixV6 are the prefix lengths that group client
	// addresses into one network for the per-IP rate limit and the
	// per-prefix connection cap: all of a /24 (IPv4) or a /64 (IPv6) share
	// one bucket, since a client that holds one address of them usually
	// holds them all. Zero means DefaultIPPrefixV4 and DefaultIPPrefixV6;
	// 32 and 128 limit single addresses.
	IPPrefixV4, IPPrefixV6 int
	// MaxConnections caps the open HTTP connections; a connection past it
	// is answered 503 too_many_connections and closed. Zero means
	// DefaultMaxConnections or, if lower, the soft open-file limit less
	// FDReserve (at least 64), so clients cannot take the file descriptors
	// Kafka, NATS and the listeners need.
	MaxConnections int
	// MaxPerNetwork caps the open connections from one client network
	// (IPPrefixV4, IPPrefixV6) of TCP peers, and once three quarters of
	// MaxConnections are open a network gets another only while it holds
	// less than its share (package conncap: the last slots are kept for
	// networks that hold few). Peers in TrustedProxies are exempt from
	// both. Zero means DefaultMaxPerNetwork, or MaxConnections if lower;
	// above MaxConnections it is refused; negative turns both rules off.
	MaxPerNetwork int
	// FDReserve is how many file descriptors a defaulted MaxConnections
	// leaves free. Zero means DefaultFDReserve.
	FDReserve int
	// ReadTimeout, WriteTimeout and IdleTimeout bound the HTTP connection.
	// Zero means DefaultReadTimeout, DefaultWriteTimeout, DefaultIdleTimeout.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ProduceTimeout bounds one produce request. Zero means
	// DefaultProduceTimeout.
	ProduceTimeout time.Duration
	// ShutdownTimeout bounds the wait for open requests when Run's context
	// ends. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// MaxBatchBytes is the size at which a partition's batch is sent even
	// while another produce is in flight. Zero means DefaultMaxBatchBytes.
	MaxBatchBytes int
	// MaxInFlight is the most produce requests in flight per partition.
	// Zero means DefaultMaxInFlight.
	MaxInFlight int
	// Compression of the record batches sent to Kafka (kafka-go's codecs:
	// gzip, snappy, lz4, zstd). It trades ingest CPU for bytes on the
	// network and the brokers' disks; MaxBatchBytes counts the bytes before
	// compression. Zero means none.
	Compression kafka.Compression

	// MaxBuffered is the most events buffered or in flight to Kafka; a
	// request that finds no room within ProduceTimeout gets 503. Zero means
	// DefaultMaxBuffered; it must be at least wire.MaxBatch.
	MaxBuffered int

	// Sync, when set, is called after Kafka acknowledged a batch and before
	// its requests are answered. "emostream up" sets it to the embedded
	// broker's group fsync; nil means Kafka's acks=all is the durability.
	// The idle probe calls it too, so /readyz fails while it does.
	Sync func(context.Context) error
	// KafkaDial, when set, opens the connections to Kafka ("emostream
	// up": the embedded broker's Dial, in process). Nil means the network.
	KafkaDial func(ctx context.Context, network, address string) (net.Conn, error)
	// Registerer receives the metrics and Gatherer serves GET /metrics. Nil
	// Registerer means a private registry; nil Gatherer means the
	// Registerer if it is a Gatherer, else the private registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Static is served at "/". Nil means web.Static().
	Static fs.FS
	// Matches is the match registry: reactions are taken only for matches
	// it admits, GET /v1/matches lists its matches (matchlist.go), and
	// the admin API (with AdminToken) changes it. Nil admits every match
	// and serves neither: for benchmarks of ingest alone.
	Matches Registry
	// Timeline answers GET /v1/matches/{id}/timeline, served when it and
	// Matches are set.
	Timeline Timeline
	// TimelineRate is the timeline requests/s allowed per client network.
	// Zero means DefaultTimelineRate; negative turns the limit off.
	TimelineRate float64
	// TimelineBurst is their burst. Zero means DefaultTimelineBurst.
	TimelineBurst int
	// MatchesRate is the GET /v1/matches requests/s allowed per client
	// network. Zero means DefaultMatchesRate; negative turns the limit off.
	MatchesRate float64
	// MatchesBurst is their burst. Zero means DefaultMatchesBurst.
	MatchesBurst int
	// Ready, when set, is one more readiness check of /readyz (503
	// stage_failing with its error while it fails): "emostream up" passes
	// the bridge's and processor's, so a stage that cannot publish fails
	// the whole stack's readiness.
	Ready func() error
	// AdminToken is the bearer token of the admin API (/v1/admin/...).
	// Empty turns the admin API off; otherwise at least MinAdminToken
	// bytes.
	AdminToken string
	// AdminGuessRate is the missing or wrong admin tokens per second
	// allowed per client network once AdminGuessBurst are spent; past it
	// the admin API answers 429 without looking at the token. Zero means
	// DefaultAdminGuessRate; negative turns the limit off.
	AdminGuessRate float64
	// AdminGuessBurst is their burst. Zero means DefaultAdminGuessBurst.
	AdminGuessBurst int
	// OpsListener serves /metrics, /healthz, /readyz and the admin API,
	// apart from the public API (ops.go). Nil means a new one on an
	// ephemeral loopback port (Server.OpsAddr); "emostream ingest" binds
	// DefaultOpsListen.
	OpsListener net.Listener
	// OpsHosts are names (or addresses) the ops listener answers to besides
	// its own addresses, localhost and the host name: a request with
	// another Host header is refused 403 (DNS rebinding). E.g. the name
	// Prometheus scrapes it by.
	OpsHosts []string
	// OpsGuard limits the ops listener's clients as every stage's ops
	// listener is limited: requests per client address and in all (429
	// rate_limited), connections in all and per client (503). Its zero
	// fields are package ratelimit's defaults; Component is set.
	OpsGuard ratelimit.GuardConfig
	// Auth configures the bearer tokens of POST /v1/emojis (auth.go). The
	// zero value requires tokens when Listener is not on loopback.
	Auth AuthConfig
	// Session configures POST /v1/session, a demo convenience that is off
	// by default (session.go).
	Session SessionConfig
	// CORSOrigins are the browser origins allowed to call the public API
	// besides the page's own ("https://app.example.com", or "*" for any).
	// Empty means the page's own origin only (cors.go).
	CORSOrigins []string
	// VideoOrigins are the origins of the HLS streams the player page
	// (/player.html) may play ("https://cdn.example.com"): its
	// Content-Security-Policy lets it fetch and play media from them.
	// Empty means the page's own origin only (cors.go).
	VideoOrigins []string
	// Logger receives the stage's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Validate reports the first setting of c, with its defaults, that New
// refuses (a *setting.Error wrapping ErrConfig), without binding or
// starting anything: for a caller that must refuse a configuration before
// it binds the listeners ("emostream ingest"). New validates again.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with every zero field set to its default, or an
// error wrapping ErrConfig.
func (c Config) withDefaults() (Config, error) {
	if len(c.KafkaBrokers) == 0 {
		c.KafkaBrokers = []string{DefaultBroker}
	}
	c.Topic = cmp.Or(c.Topic, wire.DefaultTopic)
	c.Ack = cmp.Or(c.Ack, AckAll)
	c.FlushInterval = cmp.Or(c.FlushInterval, wire.DefaultFlushInterval)
	c.Window = cmp.Or(c.Window, wire.DefaultWindow)
	c.SwarmThreshold = cmp.Or(c.SwarmThreshold, wire.DefaultSwarmThreshold)
	c.UserRate = cmp.Or(c.UserRate, DefaultUserRate)
	c.UserBurst = cmp.Or(c.UserBurst, max(DefaultUserBurst, int(c.UserRate)))
	c.IPRate = cmp.Or(c.IPRate, DefaultIPRate)
	c.IPBurst = cmp.Or(c.IPBurst, max(DefaultIPBurst, int(c.IPRate)))
	c.MaxBuckets = cmp.Or(c.MaxBuckets, DefaultMaxBuckets)
	c.TimelineRate = cmp.Or(c.TimelineRate, DefaultTimelineRate)
	c.TimelineBurst = cmp.Or(c.TimelineBurst, DefaultTimelineBurst)
	c.AdminGuessRate = cmp.Or(c.AdminGuessRate, DefaultAdminGuessRate)
	c.AdminGuessBurst = cmp.Or(c.AdminGuessBurst, DefaultAdminGuessBurst)
	c.MatchesRate = cmp.Or(c.MatchesRate, DefaultMatchesRate)
	c.MatchesBurst = cmp.Or(c.MatchesBurst, DefaultMatchesBurst)
	c.BodyLimit = cmp.Or(c.BodyLimit, DefaultBodyLimit)
	c.IPPrefixV4 = cmp.Or(c.IPPrefixV4, DefaultIPPrefixV4)
	c.IPPrefixV6 = cmp.Or(c.IPPrefixV6, DefaultIPPrefixV6)
	c.FDReserve = cmp.Or(c.FDReserve, DefaultFDReserve)
	c.MaxConnections = cmp.Or(c.MaxConnections, defaultMaxConnections(c.FDReserve))
	c.MaxPerNetwork = cmp.Or(c.MaxPerNetwork, min(DefaultMaxPerNetwork, c.MaxConnections))
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.ProduceTimeout = cmp.Or(c.ProduceTimeout, DefaultProduceTimeout)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	c.MaxBatchBytes = cmp.Or(c.MaxBatchBytes, DefaultMaxBatchBytes)
	c.MaxInFlight = cmp.Or(c.MaxInFlight, DefaultMaxInFlight)
	c.MaxBuffered = cmp.Or(c.MaxBuffered, DefaultMaxBuffered)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	var err error
	c.kafka, err = c.KafkaSecurity.Build()
	c.kafka.Dial = c.KafkaDial
	return c, setting.First(ErrConfig, setting.Err("KafkaSecurity", nil, err))
}

// validate checks c, with its defaults, one rule per setting in field order
// (package setting): its error names the setting and wraps ErrConfig.
func (c *Config) validate() error {
	rules := brokerRules(c.KafkaBrokers)
	rules = append(rules,
		setting.Check("Ack", c.Ack, c.Ack == AckAll || c.Ack == AckBuffered, "want all or buffered"),
		setting.AtLeast("FlushInterval", c.FlushInterval, 0),
		setting.Check("Window", c.Window, wire.ValidWindow(c.Window), "want "+wire.WindowRule),
		setting.AtLeast("SwarmThreshold", c.SwarmThreshold, 0),
		setting.Finite("UserRate", c.UserRate),
		setting.AtLeast("UserBurst", c.UserBurst, 0),
		setting.Finite("IPRate", c.IPRate),
		setting.AtLeast("IPBurst", c.IPBurst, 0),
		setting.AtLeast("MaxBuckets", c.MaxBuckets, 0),
		setting.AtLeast("BodyLimit", c.BodyLimit, 0),
		setting.Between("IPPrefixV4", c.IPPrefixV4, 1, 32),
		setting.Between("IPPrefixV6", c.IPPrefixV6, 1, 128),
	)
	rules = append(rules, c.connCaps().Rules("MaxConnections", "MaxPerNetwork")...)
	rules = append(rules, c.OpsGuard.Rules("OpsGuard")...)
	rules = append(rules,
		setting.AtLeast("FDReserve", c.FDReserve, 0),
		setting.AtLeast("ReadTimeout", c.ReadTimeout, 0),
		setting.AtLeast("WriteTimeout", c.WriteTimeout, 0),
		setting.AtLeast("IdleTimeout", c.IdleTimeout, 0),
		setting.AtLeast("ProduceTimeout", c.ProduceTimeout, 0),
		setting.AtLeast("ShutdownTimeout", c.ShutdownTimeout, 0),
		setting.AtLeast("MaxBatchBytes", c.MaxBatchBytes, 0),
		setting.AtLeast("MaxInFlight", c.MaxInFlight, 0),
		setting.Check("Compression", int(c.Compression), c.Compression == 0 || c.Compression.Codec() != nil, "want none, gzip, snappy, lz4 or zstd"),
		setting.Check("MaxBuffered", c.MaxBuffered, c.MaxBuffered >= wire.MaxBatch,
			fmt.Sprintf("want at least one full request (%d)", wire.MaxBatch)),
		setting.Finite("TimelineRate", c.TimelineRate),
		setting.Finite("MatchesRate", c.MatchesRate),
		setting.Check("MatchesBurst", c.MatchesBurst, c.MatchesBurst >= MinMatchesBurst,
			fmt.Sprintf("want at least %d, what the largest page costs (or 0 for %d)", MinMatchesBurst, DefaultMatchesBurst)),
		setting.Check("AdminToken", setting.Text(fmt.Sprintf("(%d bytes)", len(c.AdminToken))),
			c.AdminToken == "" || len(c.AdminToken) >= MinAdminToken, fmt.Sprintf("want at least %d bytes, or none", MinAdminToken)),
		setting.Check("Matches", nil, c.AdminToken == "" || c.Matches != nil, "want a match registry for the admin API (AdminToken)"),
		setting.Finite("AdminGuessRate", c.AdminGuessRate),
		setting.AtLeast("AdminGuessBurst", c.AdminGuessBurst, 0),
	)
	return setting.First(ErrConfig, rules...)
}

// brokerRules are the rules of KafkaBrokers: each a host:port.
func brokerRules(brokers []string) []setting.Rule {
	rules := make([]setting.Rule, len(brokers))
	for i, b := range brokers {
		_, _, err := net.SplitHostPort(b)
		rules[i] = setting.Err("KafkaBrokers", b, err)
	}
	return rules
}

// defaultMaxConnections is MaxConnectionsFor the process's soft open-file limit, or
// DefaultMaxConnections where it is unknown.
func defaultMaxConnections(reserve int) int {
	soft, ok := openFileLimit()
	if !ok {
		return DefaultMaxConnections
	}
	return MaxConnectionsFor(soft, reserve)
}

// MaxConnectionsFor is the MaxConnections a zero one stands for at an open-file limit
// of soft: DefaultMaxConnections, or soft less reserve if that is lower, but at
// least 64.
func MaxConnectionsFor(soft uint64, reserve int) int {
	if soft >= DefaultMaxConnections+uint64(max(reserve, 0)) {
		return DefaultMaxConnections
	}
	return max(int(soft)-reserve, minDefaultMaxConnections)
}

// connCaps are the connection caps, for the listener (conncap).
func (c *Config) connCaps() conncap.Caps {
	return conncap.Caps{Total: c.MaxConnections, PerNetwork: c.MaxPerNetwork}
}
