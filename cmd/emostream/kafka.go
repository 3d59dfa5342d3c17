package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/wire"
)

// Defaults of emostream kafka and emostream up.
const (
	defaultDataDir   = "./.emostream"
	defaultKafkaAddr = "127.0.0.1:9092"
)

func init() {
	register(&command{
		name:    "kafka",
		summary: "run the embedded Kafka-protocol broker alone (kfake, persisted, fsync per batch)",
		run:     runKafka,
	})
}

const kafkaSynopsis = "Runs the embedded Kafka-protocol broker (franz-go kfake) with its log under\n--data-dir, creating the events topic. Any Kafka client can use it."

// kafkaFlags are the flags of "emostream kafka".
type kafkaFlags struct {
	dataDir, listen, topic string
	partitions             int
	sync                   bool
	security               *brokerSecurityFlags
}

func addKafkaFlags(fs *flag.FlagSet) *kafkaFlags {
	f := &kafkaFlags{}
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir, "directory for the Kafka log (kept across restarts); locked while the broker runs (<dir>/kafka.lock): a second one on it exits at once")
	fs.StringVar(&f.listen, "listen", defaultKafkaAddr, "address to serve the Kafka protocol on")
	fs.StringVar(&f.topic, "topic", wire.DefaultTopic, "topic to create if missing")
	fs.IntVar(&f.partitions, "partitions", wire.DefaultPartitions, fmt.Sprintf("partitions of the topic when it is created, 1 to %d", kafkaconn.MaxPartitions))
	fs.BoolVar(&f.sync, "sync", true, "fsync every produced batch (false: faster, and a crash may lose acknowledged records)")
	deprecateNegation(fs, "no-sync", "sync")
	f.security = addBrokerSecurityFlags(fs)
	return f
}

// config checks the flags and turns them into a broker.Config, short of
// its listener.
func (f *kafkaFlags) config(fs *flag.FlagSet, env *environment, log *slog.Logger) (broker.Config, error) {
	if err := checkPartitions(f.partitions, 1); err != nil {
		return broker.Config{}, err
	}
	cfg := broker.Config{DataDir: f.dataDir, Topic: f.topic, Partitions: int32(f.partitions), DisableSync: !f.sync,
		Logger: log.With("component", "kafka")}
	if err := f.security.apply(env, &cfg); err != nil {
		return cfg, fmt.Errorf("kafka: %w", err)
	}
	return cfg, nil
}

func runKafka(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "kafka", kafkaSynopsis, args, addKafkaFlags)
	if err != nil {
		return err
	}
	cfg, err := f.config(fs, env, log)
	if err != nil {
		return err
	}
	if cfg.Listener, err = listenFlag("listen", f.listen); err != nil {
		return err
	}
	b, err := broker.Start(cfg)
	if err != nil {
		return flagError(err, settingFlags{broker.ErrConfig, map[string]string{"Partitions": "partitions", "DataDir": "data-dir"}})
	}
	fmt.Fprintf(env.stdout, "Kafka broker on %s (%s), topic %s, data in %s\n", b.Addr(), f.security, f.topic, f.dataDir)
	<-ctx.Done()
	b.Close()
	return nil
}
