// Package broker runs the embedded Kafka-protocol broker (franz-go's kfake)
// that "emostream up" and "emostream kafka" use as the local default: one
// broker on a chosen address, its log persisted under a data directory with
// every produced batch fsynced, and the events topic created.
package broker

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/emostream/emostream/internal/dirlock"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// ErrConfig is wrapped by every error of Start about its Config.
var ErrConfig = errors.New("broker: invalid config")

// Config describes the broker. Zero values are the documented defaults.
type Config struct {
	// DataDir holds the log (DataDir/kafka), locked against other processes
	// in DataDir/kafka.lock (package dirlock) while the broker runs. Empty
	// means in memory only (tests).
	DataDir string
	// Listener is the bound listener to serve on. Nil means a new one on
	// 127.0.0.1 with a random port.
	Listener net.Listener
	// Topic is created if missing. Empty means wire.DefaultTopic.
	Topic string
	// Partitions of Topic when it is created, at most
	// kafkaconn.MaxPartitions, as a topic created through the Kafka
	// protocol (kfake builds every partition at once: 10^8 held 23 GB for
	// minutes). Zero means wire.DefaultPartitions.
	Partitions int32
	// DisableSync turns off the fsync of every produced batch (faster, and a
	// machine crash may lose what the broker acknowledged).
	DisableSync bool
	// GroupSync replaces the broker's fsync of every produced batch with
	// Broker.Sync, which the one producer that uses it (ingest in "emostream
	// up") calls after each produce and before it acknowledges anything:
	// one shared pass of fsyncs per round of produces instead of two
	// serial fsyncs per partition batch. Other clients' produces are then
	// durable only once somebody calls Sync.
	GroupSync bool
	// TLS, when set, makes the broker serve TLS only with this server
	// configuration (ClientAuth tls.RequireAndVerifyClientCert requires
	// client certificates). Nil means plaintext.
	TLS *tls.Config
	// Users, when set, turns SASL authentication on: only these users may
	// connect, each with its mechanism. They replace any users persisted
	// in DataDir. Empty means no authentication.
	Users []User
	// Logger receives the broker's warnings. Nil discards them.
	Logger *slog.Logger
}

// User is a SASL user of the broker.
type User struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case).
	Mechanism string
	Name      string
	Password  string
}

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
	ln   *listener
	sync *syncer       // nil without a data directory or with DisableSync
	lock *dirlock.Lock // nil without a data directory
}

// LockFile is the lock of a data directory's Kafka log, in the data
// directory (kfake reads every file of its own directory).
const LockFile = "kafka.lock"

// Start starts the broker; Close stops it.
func Start(cfg Config) (*Broker, error) {
	cfg.Topic = cmp.Or(cfg.Topic, wire.DefaultTopic)
	cfg.Partitions = cmp.Or(cfg.Partitions, wire.DefaultPartitions)
	if err := setting.First(ErrConfig, append([]setting.Rule{setting.Between("Partitions", cfg.Partitions, 0, kafkaconn.MaxPartitions)}, userRules(cfg.Users)...)...); err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
	}
	bl := newListener(ln)
	opts, err := clusterOpts(cfg, bl)
	if err != nil {
		bl.Close()
		return nil, err
	}
	b := &Broker{addr: ln.Addr().String(), ln: bl}
	if cfg.DataDir != "" {
		if b.lock, err = dirlock.Acquire(cfg.DataDir, LockFile); err != nil {
			bl.Close()
			return nil, err
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		bl.Close()
		b.unlock()
		return nil, fmt.Errorf("broker: starting: %w", err)
	}
	b.c = c
	if cfg.DataDir != "" && !cfg.DisableSync {
		b.sync = newSyncer(filepath.Join(cfg.DataDir, "kafka"))
	}
	if c.TopicInfo(cfg.Topic) == nil { // loaded from a data dir without it
		if err := c.CreateTopic(cfg.Topic, cfg.Partitions, nil); err != nil {
			b.Close()
			return nil, fmt.Errorf("broker: creating topic %s: %w", cfg.Topic, err)
		}
	}
	if err := b.Sync(context.Background()); err != nil { // the topic and metadata files
		b.Close()
		return nil, err
	}
	return b, nil
}

// clusterOpts are kfake's options for cfg, serving on ln.
func clusterOpts(cfg Config, ln net.Listener) ([]kfake.Opt, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.SeedTopics(cfg.Partitions, cfg.Topic),
		kfake.ClusterID("emostream"),
		kfake.GroupMinSessionTimeout(500 * time.Millisecond),
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(logger{cfg.Logger}))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(filepath.Join(cfg.DataDir, "kafka")))
		if !cfg.DisableSync && !cfg.GroupSync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	sec, err := securityOpts(cfg)
	return append(opts, sec...), err
}

// Sync returns once everything the broker acknowledged before the call is on
// disk. Without a data directory, or with DisableSync, it does nothing.
func (b *Broker) Sync(ctx context.Context) error {
	if b.sync == nil {
		return nil
	}
	return b.sync.Sync(ctx)
}

// Dial connects to address as kafka-go's dialers do, in process when it
// is the broker's own (Addr): the same Kafka protocol, TLS and SASL as
// over TCP, without the loopback's system calls and network-poller
// wake-ups (docs/benchmarks.md, issue 23). Other addresses it dials over
// the network.
func (b *Broker) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if address == b.addr {
		return b.ln.dial(ctx)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// Connections is how many connections the broker accepted so far: in
// process (Dial) and over TCP.
func (b *Broker) Connections() (inProcess, tcp int64) {
	return b.ln.dialed.Load(), b.ln.tcpN.Load()
}

// Addr is the host:port clients bootstrap from.
func (b *Broker) Addr() string { return b.addr }

// Cluster is the underlying kfake cluster, for tests that inject faults.
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker, flushing its log to the data directory, and
// then lets the directory go.
func (b *Broker) Close() {
	b.c.Close()
	if b.sync != nil {
		b.sync.close()
	}
	b.unlock()
}

func (b *Broker) unlock() {
	if b.lock != nil {
		b.lock.Release()
	}
}

type logger struct{ l *slog.Logger }

func (l logger) Logf(level kfake.LogLevel, msg string, args ...any) {
	lv := slog.LevelDebug
	switch level {
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	case kfake.LogLevelNone:
		return
	}
	l.l.Log(context.Background(), lv, fmt.Sprintf(msg, args...))
}
