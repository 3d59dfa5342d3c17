package bridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// Defaults of the zero Config.
const (
	// DefaultCloseDelay is how long after a window's end the bridge waits
	// for its last records before it closes the window.
	DefaultCloseDelay = 100 * time.Millisecond
	// DefaultDedupHorizon is how long, in receive time, an event_id is
	// remembered.
	DefaultDedupHorizon = 10 * time.Minute
	// DefaultFreshLookback is how far back a partition with no partial in
	// the store starts counting.
	DefaultFreshLookback = 10 * time.Minute
	// DefaultDedupMemory is each partition's dedup budget: about 2.34
	// million event_ids (14 bytes each, with 768 KiB of per-user counts),
	// which holds 3,460 events with an event_id per second on the partition
	// for the whole horizon (10 min, and the 75 s an id may outlive it).
	// Memory grows with the ids remembered, up to the budget.
	DefaultDedupMemory = 32 << 20
	// DefaultDedupPerUser is how many event_ids of one user_id are
	// remembered within the horizon: what ingest's default per-user rate
	// limit lets one user send while an id may be remembered (a burst of
	// 100 and 20/s for the 10 min horizon and its 75 s span).
	DefaultDedupPerUser = 13_600
	// DefaultSessionTimeout is the consumer group session timeout.
	DefaultSessionTimeout = 10 * time.Second
	// DefaultHeartbeat is the consumer group heartbeat interval.
	DefaultHeartbeat = time.Second
	// DefaultPartitionWatch is how often the topic's partition count is
	// checked.
	DefaultPartitionWatch = 5 * time.Second
	// DefaultMaxPartialBytes bounds a partial's JSON encoding: a quarter of
	// the hub's default max_payload (1 MiB). About 2,500 keys fit when each
	// is a new match id of 64 bytes, about 9,000 of emojis of known matches.
	DefaultMaxPartialBytes = 256 << 10
	// partialHeaderBytes is what a partial's publish adds to its payload in
	// headers (Nats-Msg-Id, the expected last sequence), with room to spare.
	partialHeaderBytes = 1 << 10
)

// Sentinel errors.
var (
	// ErrConfig is wrapped by every error of New.
	ErrConfig = errors.New("bridge: invalid config")
	// ErrFenced means another bridge published on a partition's subject
	// since this one read it: this one stops and re-reads the stream.
	ErrFenced = errors.New("bridge: fenced by a newer partial")
	// ErrOffsetRegression means the partition's log ends before the offset
	// the last partial resumes at (a truncated or replaced log).
	ErrOffsetRegression = errors.New("bridge: kafka log ends before the resume offset")
	// ErrTooLarge means a partial could not be published because it
	// exceeds a server's limit: the partition stops, and Ready reports it.
	ErrTooLarge = errors.New("bridge: partial too large to publish")
)

// Config describes a bridge. The zero value of every field but KafkaBrokers
// is a documented default.
type Config struct {
	// KafkaBrokers are the Kafka bootstrap addresses. Required.
	KafkaBrokers []string
	// Topic is the events topic. Empty means wire.DefaultTopic.
	Topic string
	// Group is the Kafka consumer group. Empty means wire.DefaultGroup.
	Group string
	// KafkaSecurity is how the bridge connects to Kafka (TLS, SASL). The
	// zero value is plaintext without authentication.
	KafkaSecurity kafkaconn.Security
	// KafkaDial, when set, opens the connections to Kafka ("emostream
	// up": the embedded broker's Dial, in process). Nil means the network.
	KafkaDial func(ctx context.Context, network, address string) (net.Conn, error)
	// NATSURL is the JetStream hub the bridge dials. Empty means
	// nats.DefaultURL.
	NATSURL string
	// NATSOptions are added when dialling NATSURL: credentials and TLS
	// (natsconn.Options.NATSOptions). Nil means an anonymous plain
	// connection.
	NATSOptions []nats.Option
	// NATSConn, when set, is used instead of dialling NATSURL; the bridge
	// does not close it (tests and benchmarks share one connection). Nil
	// means the bridge dials and closes its own.
	NATSConn *nats.Conn
	// Window is the window length. Zero means wire.DefaultWindow.
	Window time.Duration
	// CloseDelay is how long after its end a window closes when no record
	// of a later window closed it first: the wait for the partition's last
	// records, the first of the two waits after a window's end (the
	// processor's PartitionWait, for missing partitions, is the second).
	// Zero means DefaultCloseDelay.
	CloseDelay time.Duration
	// DedupHorizon is how long, in receive time, a non-empty event_id is
	// remembered so that a repeat counts once; no other client's load
	// shortens it (docs/design.md, "Idempotency"). At least 1s. Zero means
	// DefaultDedupHorizon; negative turns dedup off.
	DedupHorizon time.Duration
	// DedupMemory is each partition's memory budget for remembered
	// event_ids, 14 bytes each: size it as the partition's rate of events
	// with an event_id times DedupHorizon (and an eighth). While it is
	// full, new ids are counted but not remembered (their retries may
	// count twice); remembered ones keep their horizon. 1 MiB to 16 GiB.
	// Zero means DefaultDedupMemory.
	DedupMemory int64
	// DedupPerUser caps the event_ids of one user_id remembered within
	// the horizon, so that no one user fills the budget; past it that
	// user's new ids are counted but not remembered. At most
	// MaxDedupPerUser. Zero means DefaultDedupPerUser; negative means no
	// cap.
	DedupPerUser int
	// FreshLookback is how far back, in receive time, a partition with no
	// partial in the store starts counting (a new JetStream store on a
	// topic with history): older records are skipped and reported. Zero
	// means DefaultFreshLookback; negative counts the whole topic.
	FreshLookback time.Duration
	// MaxPartialBytes bounds the JSON encoding of every partial: a window
	// whose counts would outgrow it is published as several partials (the
	// window is split). It must fit, with 1 KiB for headers, within the
	// NATS server's max_payload, which Run checks. Zero means
	// DefaultMaxPartialBytes.
	MaxPartialBytes int
	// SessionTimeout is the consumer group session timeout: how long a
	// bridge that vanished keeps its partitions. Zero means
	// DefaultSessionTimeout.
	SessionTimeout time.Duration
	// Heartbeat is the consumer group heartbeat interval, which also bounds
	// how fast a bridge notices a rebalance. Zero means DefaultHeartbeat.
	Heartbeat time.Duration
	// PartitionWatch is how often every bridge of the group reads the
	// topic's partition count; a change (partitions added) ends the group's
	// generation, so the rebalance assigns the new partitions too. Zero
	// means DefaultPartitionWatch.
	PartitionWatch time.Duration
	// Now is the clock that closes windows. Nil means time.Now.
	Now func() time.Time
	// Logger receives the bridge's logs. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the bridge's metrics. Nil means a private
	// registry.
	Registerer prometheus.Registerer
	// Streams configures the JetStream streams that Run ensures exist.
	Streams streams.Config
}

func (c Config) withDefaults() Config {
	c.Topic = cmp.Or(c.Topic, wire.DefaultTopic)
	c.Group = cmp.Or(c.Group, wire.DefaultGroup)
	c.NATSURL = cmp.Or(c.NATSURL, nats.DefaultURL)
	c.Window = cmp.Or(c.Window, wire.DefaultWindow)
	c.CloseDelay = cmp.Or(c.CloseDelay, DefaultCloseDelay)
	c.DedupHorizon = cmp.Or(c.DedupHorizon, DefaultDedupHorizon)
	c.DedupMemory = cmp.Or(c.DedupMemory, DefaultDedupMemory)
	c.DedupPerUser = cmp.Or(c.DedupPerUser, DefaultDedupPerUser)
	c.FreshLookback = cmp.Or(c.FreshLookback, DefaultFreshLookback)
	c.MaxPartialBytes = cmp.Or(c.MaxPartialBytes, DefaultMaxPartialBytes)
	c.SessionTimeout = cmp.Or(c.SessionTimeout, DefaultSessionTimeout)
	c.Heartbeat = cmp.Or(c.Heartbeat, DefaultHeartbeat)
	c.PartitionWatch = cmp.Or(c.PartitionWatch, DefaultPartitionWatch)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	return c
}

// validate checks c, with its defaults, one rule per setting in field order
// (package setting): its error names the setting and wraps ErrConfig.
func (c Config) validate() error {
	return setting.First(ErrConfig,
		setting.Check("KafkaBrokers", setting.Text(fmt.Sprint(c.KafkaBrokers)), len(c.KafkaBrokers) > 0, "want at least one"),
		setting.Check("Window", c.Window, wire.ValidWindow(c.Window), "want "+wire.WindowRule),
		setting.Check("CloseDelay", c.CloseDelay, c.CloseDelay >= 0 && c.CloseDelay < c.Window,
			fmt.Sprintf("want 0 to less than Window (%v)", c.Window)),
		setting.Check("DedupHorizon", c.DedupHorizon, c.DedupHorizon < 0 || c.DedupHorizon >= time.Second,
			"want at least 1s, or negative for off"),
		setting.Between("DedupMemory", c.DedupMemory, minDedupMemory, maxDedupMemory),
		setting.AtMost("DedupPerUser", c.DedupPerUser, MaxDedupPerUser),
		setting.Between("MaxPartialBytes", c.MaxPartialBytes, minPartialBytes(c.Topic), maxPartialBytes),
		setting.Above("Heartbeat", c.Heartbeat, 0),
		setting.Above("PartitionWatch", c.PartitionWatch, 0),
		setting.Check("SessionTimeout", c.SessionTimeout, c.SessionTimeout >= 2*c.Heartbeat,
			fmt.Sprintf("want at least twice Heartbeat (%v)", c.Heartbeat)),
	)
}

// Bounds of DedupMemory.
const (
	minDedupMemory = 1 << 20
	maxDedupMemory = 16 << 30
)

// maxPartialBytes is the largest MaxPartialBytes: NATS allows no payload
// above 64 MiB.
const maxPartialBytes = 64 << 20

// checkPayload checks that a partial of MaxPartialBytes fits the server's
// max_payload.
func (c Config) checkPayload(nc *nats.Conn) error {
	mp := nc.MaxPayload()
	return setting.First(ErrConfig, setting.Check("MaxPartialBytes", c.MaxPartialBytes, mp <= 0 || int64(c.MaxPartialBytes+partialHeaderBytes) <= mp,
		fmt.Sprintf("want at most the server's max_payload %d less %d for headers", mp, partialHeaderBytes)))
}
