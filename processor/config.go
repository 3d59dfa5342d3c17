package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// Defaults of Config.
const (
	// DefaultDeadline is how long after a window's end the processor waits
	// for missing partitions. Healthy bridges deliver every partial within
	// their close delay (about 100ms), so windows close by all_partitions
	// well before it; 400ms bounds the delivery lag of a window with one
	// stalled bridge to about 0.4s, inside the 0.5s target, and a partial
	// later than that is not lost but folded into the next window.
	DefaultDeadline = 400 * time.Millisecond
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
)

// Sentinel errors.
var (
	// ErrConfig is wrapped by every configuration error of New.
	ErrConfig = errors.New("processor: invalid config")
	// ErrNoPartitions means neither Partitions nor KafkaBrokers was given.
	ErrNoPartitions = errors.New("processor: no partition count: set Partitions or KafkaBrokers")
	// errConflict means the swarm stream holds a newer swarm of a match than
	// this processor knew: another processor, or an earlier attempt, stored it.
	errConflict = errors.New("processor: swarm stream moved on")
)

// Config configures a Processor. The zero value of every field is its
// documented default, except that Partitions or KafkaBrokers must be set.
type Config struct {
	// NATS is the URL of the NATS server holding the streams. Empty means
	// nats.DefaultURL.
	NATS string
	// KafkaBrokers are the brokers asked for the topic's partition count.
	KafkaBrokers []string
	// Topic is the Kafka topic of the events. Empty means wire.DefaultTopic.
	Topic string
	// Partitions, when positive, is the partition count, and Kafka is not
	// asked.
	Partitions int
	// PartitionRefresh is how often Kafka is asked again. Zero means 30s.
	PartitionRefresh time.Duration
	// Window is the window length. Zero means wire.DefaultWindow.
	Window time.Duration
	// Deadline is how long after a window's end a missing partition is
	// waited for. Zero means DefaultDeadline.
	Deadline time.Duration
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
	// Streams configures the streams that New's Run ensures exist.
	Streams streams.Config
	// Registerer receives the metrics. Nil means a private registry.
	Registerer prometheus.Registerer
	// Logger logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.NATS == "" {
		c.NATS = nats.DefaultURL
	}
	if c.Topic == "" {
		c.Topic = wire.DefaultTopic
	}
	c.PartitionRefresh = orDuration(c.PartitionRefresh, DefaultPartitionRefresh)
	c.Window = orDuration(c.Window, wire.DefaultWindow)
	c.Deadline = orDuration(c.Deadline, DefaultDeadline)
	c.PinnedTTL = orDuration(c.PinnedTTL, DefaultPinnedTTL)
	c.AckWait = orDuration(c.AckWait, DefaultAckWait)
	if c.SwarmThreshold == 0 {
		c.SwarmThreshold = wire.DefaultSwarmThreshold
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (c Config) validate() error {
	switch {
	case !wire.ValidWindow(c.Window):
		return fmt.Errorf("%w: window %v", ErrConfig, c.Window)
	case c.Deadline < 0 || c.Deadline > time.Hour:
		return fmt.Errorf("%w: deadline %v", ErrConfig, c.Deadline)
	case c.SwarmThreshold < 1:
		return fmt.Errorf("%w: swarm threshold %d", ErrConfig, c.SwarmThreshold)
	case c.PinnedTTL < 2*time.Second:
		return fmt.Errorf("%w: pinned TTL %v is below 2s", ErrConfig, c.PinnedTTL)
	case c.Partitions < 0 || c.PartitionRefresh < 0 || c.AckWait < time.Second:
		return fmt.Errorf("%w: partitions %d, refresh %v, ack wait %v", ErrConfig, c.Partitions, c.PartitionRefresh, c.AckWait)
	case c.Partitions == 0 && len(c.KafkaBrokers) == 0:
		return ErrNoPartitions
	}
	return nil
}
