package processor

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

// Defaults of Config.
const (
	// DefaultPartitionWait is how long after a window's end the processor
	// waits for missing partitions. Healthy bridges deliver every partial within
	// their close delay (about 100ms), so windows close by all_partitions
	// well before it; 400ms bounds the delivery lag of a window with one
	// stalled bridge to about 0.4s, inside the 0.5s target, and a partial
	// later than that is not lost but folded into the next window.
	DefaultPartitionWait = 400 * time.Millisecond
	// DefaultConsumer is the durable consumer shared by all processors.
	DefaultConsumer = "emostream-processor"
	// DefaultGroup is the priority group of DefaultConsumer.
	DefaultGroup = "emostream"
	// DefaultPinnedTTL is how long a silent pinned processor keeps the pin.
	DefaultPinnedTTL = 5 * time.Second
	// DefaultAckWait is the consumer's redelivery timeout.
	DefaultAckWait = 30 * time.Second
	// DefaultPartitionRefresh is how often the partition count is re-read.
	DefaultPartitionRefresh = 30 * time.Second
	// DefaultMaxOpenWindows caps the windows open at once: 10 minutes of
	// 2-second windows.
	DefaultMaxOpenWindows = 300
	// DefaultMaxMatchStates caps the match states cached per session
	// (each a few hundred bytes plus 24 bytes per partition).
	DefaultMaxMatchStates = 100_000
	// DefaultRestartGrace is how long after a session starts a window past
	// its deadline still waits for partitions not heard from yet or
	// catching up (grace.go): longer than a bridge's consumer-group session
	// timeout (10s), so bridges restarted with the processor are waited for.
	DefaultRestartGrace = 15 * time.Second
	// DefaultMaxSwarmBytes bounds a swarm's encoding: a leaf's default
	// max_payload (64 KiB) less 4 KiB for the headers of its republish.
	DefaultMaxSwarmBytes = 60 << 10
	// maxAckPending caps the partials delivered and not yet acknowledged,
	// and so the entries of the open windows.
	maxAckPending = 20_000
)

// Sentinel errors.
var (
	// ErrConfig is wrapped by every configuration error of New.
	ErrConfig = errors.New("processor: invalid config")
	// ErrNoPartitions is wrapped, beside ErrConfig, when neither
	// Partitions nor KafkaBrokers was given.
	ErrNoPartitions = errors.New("processor: no partition count: set Partitions or KafkaBrokers")
	// errConflict means the swarm stream holds a newer swarm of a match than
	// this processor knew: another processor, or an earlier attempt, stored it.
	errConflict = errors.New("processor: swarm stream moved on")
	// ErrTooLarge means a swarm exceeds MaxSwarmBytes or a server's limit:
	// Run stops with it, its window's partials unacknowledged, and Ready
	// reports it.
	ErrTooLarge = errors.New("processor: swarm too large to publish")
	// errUnencodable means a swarm cannot be encoded (a time outside years
	// 0000-9999, a number JSON has no form for): no retry can change that,
	// so the swarm is dropped.
	errUnencodable = errors.New("processor: swarm cannot be encoded")
)

// Config configures a Processor. The zero value of every field is its
// documented default, except that Partitions or KafkaBrokers must be set.
type Config struct {
	// NATSURL is the NATS server holding the streams. Empty means
	// nats.DefaultURL.
	NATSURL string
	// NATSOptions are added when dialling NATSURL: credentials and TLS
	// (natsconn.Options.NATSOptions). Nil means an anonymous plain
	// connection.
	NATSOptions []nats.Option
	// KafkaBrokers are the brokers asked for the topic's partition count.
	KafkaBrokers []string
	// KafkaSecurity is how the processor connects to Kafka (TLS, SASL).
	// The zero value is plaintext without authentication.
	KafkaSecurity kafkaconn.Security
	// KafkaDial, when set, opens the connections to Kafka ("emostream
	// up": the embedded broker's Dial, in process). Nil means the network.
	KafkaDial func(ctx context.Context, network, address string) (net.Conn, error)
	// Topic is the Kafka topic of the events. Empty means wire.DefaultTopic.
	Topic string
	// Partitions, when positive, is the partition count, and Kafka is not
	// asked.
	Partitions int
	// PartitionRefresh is how often Kafka is asked again. Zero means 30s.
	PartitionRefresh time.Duration
	// Window is the window length. Zero means wire.DefaultWindow.
	Window time.Duration
	// PartitionWait is how long after a window's end the processor waits
	// for the partial of a partition that has not delivered it: at the
	// window's deadline, its end plus PartitionWait, it closes without it
	// (closed_by "deadline"). It is the second wait after a window's end,
	// after the bridges' (bridge.Config.CloseDelay, for their last
	// records), and longer than that plus a publish. Zero means
	// DefaultPartitionWait.
	PartitionWait time.Duration
	// RestartGrace is how long after the processor starts or takes over a
	// window past its deadline still waits for a partition that has not
	// delivered a partial since, or is catching up: after a restart of
	// every stage, each bridge's windows count in their own windows rather
	// than late. Zero means DefaultRestartGrace; negative turns it off.
	RestartGrace time.Duration
	// SwarmThreshold is how many identical emojis make one swarm unit.
	// Zero means wire.DefaultSwarmThreshold.
	SwarmThreshold int64
	// Consumer is the durable consumer's name. Empty means DefaultConsumer.
	Consumer string
	// PinnedTTL is how long the pinned processor may be silent before the
	// other takes over. Zero means DefaultPinnedTTL.
	PinnedTTL time.Duration
	// AckWait is the consumer's redelivery timeout. Zero means 30s.
	AckWait time.Duration
	// MaxOpenWindows caps the windows open at once. Past it, the earliest
	// closes at once, as by deadline (counted as closed_by
	// "open_windows_cap"); a partition's partial that arrives later is
	// counted, late, in the next window. Zero means DefaultMaxOpenWindows.
	MaxOpenWindows int
	// MaxMatchStates caps the matches whose last swarm is cached in a
	// session; the least recently used is dropped and read back from the
	// swarm stream when needed again. Zero means DefaultMaxMatchStates.
	MaxMatchStates int
	// MaxSwarmBytes bounds a swarm's encoding, which every server on the
	// way to viewers must take (the hub's max_payload is checked in Run).
	// A swarm over it stops Run with ErrTooLarge. Zero means
	// DefaultMaxSwarmBytes.
	MaxSwarmBytes int
	// DisableTimeline turns off the timeline records, rollups and moments
	// (wire.TimelineStream): for comparing the processor's cost without
	// them. Swarms still carry viewers.
	DisableTimeline bool
	// Moments is the crowd-moment rule. The zero value is the documented
	// default rule.
	Moments MomentRule
	// MaxEdges bounds the edges whose occupancy reports are kept; reports
	// of further edges are dropped and counted. Zero means DefaultMaxEdges.
	MaxEdges int
	// MaxOccupancy bounds the (edge, match) viewer counts kept. Zero means
	// DefaultMaxOccupancy.
	MaxOccupancy int
	// MaxEdgeViewers bounds one edge's count of one match's viewers: a
	// report's counts are clamped to it, and to the connection cap the
	// report states. MaxEdges × MaxEdgeViewers must stay below 2^62. Zero
	// means DefaultMaxEdgeViewers.
	MaxEdgeViewers int64
	// Streams configures the streams that New's Run ensures exist.
	Streams streams.Config
	// Registerer receives the metrics. Nil means a private registry.
	Registerer prometheus.Registerer
	// Logger receives the processor's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	c.NATSURL = cmp.Or(c.NATSURL, nats.DefaultURL)
	c.Topic = cmp.Or(c.Topic, wire.DefaultTopic)
	c.PartitionRefresh = cmp.Or(c.PartitionRefresh, DefaultPartitionRefresh)
	c.Window = cmp.Or(c.Window, wire.DefaultWindow)
	c.PartitionWait = cmp.Or(c.PartitionWait, DefaultPartitionWait)
	c.RestartGrace = cmp.Or(c.RestartGrace, DefaultRestartGrace)
	c.PinnedTTL = cmp.Or(c.PinnedTTL, DefaultPinnedTTL)
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.MaxOpenWindows = cmp.Or(c.MaxOpenWindows, DefaultMaxOpenWindows)
	c.MaxMatchStates = cmp.Or(c.MaxMatchStates, DefaultMaxMatchStates)
	c.MaxSwarmBytes = cmp.Or(c.MaxSwarmBytes, DefaultMaxSwarmBytes)
	c.SwarmThreshold = cmp.Or(c.SwarmThreshold, wire.DefaultSwarmThreshold)
	c.Consumer = cmp.Or(c.Consumer, DefaultConsumer)
	c.Moments = c.Moments.withDefaults()
	c.MaxEdges = cmp.Or(c.MaxEdges, DefaultMaxEdges)
	c.MaxOccupancy = cmp.Or(c.MaxOccupancy, DefaultMaxOccupancy)
	c.MaxEdgeViewers = cmp.Or(c.MaxEdgeViewers, DefaultMaxEdgeViewers)
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// minSwarmBytes is the least MaxSwarmBytes.
const minSwarmBytes = 4 << 10

// swarmHeaderBytes is room for a swarm publish's headers.
const swarmHeaderBytes = 1 << 10

// validate checks c, with its defaults, one rule per setting in field order
// (package setting): its error names the setting and wraps ErrConfig.
func (c Config) validate() error {
	rules := []setting.Rule{
		setting.AtLeast("Partitions", c.Partitions, 0),
		setting.Check("Partitions", c.Partitions, c.Partitions > 0 || len(c.KafkaBrokers) > 0,
			"want a partition count, or KafkaBrokers to ask").Wrapping(ErrNoPartitions),
		setting.AtLeast("PartitionRefresh", c.PartitionRefresh, 0),
		setting.Check("Window", c.Window, wire.ValidWindow(c.Window), "want "+wire.WindowRule),
		setting.Between("PartitionWait", c.PartitionWait, 0, time.Hour),
		setting.AtLeast("SwarmThreshold", c.SwarmThreshold, 1),
		setting.AtLeast("PinnedTTL", c.PinnedTTL, 2*time.Second),
		setting.AtLeast("AckWait", c.AckWait, time.Second),
		setting.AtLeast("MaxOpenWindows", c.MaxOpenWindows, 1),
		setting.AtLeast("MaxMatchStates", c.MaxMatchStates, 1),
		setting.AtLeast("MaxSwarmBytes", c.MaxSwarmBytes, minSwarmBytes),
	}
	rules = append(rules, setting.Under("Moments", c.Moments.rules(c.Window)...)...)
	rules = append(rules,
		setting.AtLeast("MaxEdges", c.MaxEdges, 1),
		setting.AtLeast("MaxOccupancy", c.MaxOccupancy, 1),
		setting.Check("MaxEdgeViewers", c.MaxEdgeViewers, c.MaxEdgeViewers >= 1 && c.MaxEdgeViewers <= maxViewersSum/int64(max(c.MaxEdges, 1)),
			fmt.Sprintf("want 1 to 2^62 / MaxEdges (%d)", c.MaxEdges)),
	)
	return setting.First(ErrConfig, rules...)
}
