package main

import (
	"context"
	"fmt"

	"github.com/emostream/emostream/internal/broker"
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

func runKafka(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "kafka", "Runs the embedded Kafka-protocol broker (franz-go kfake) with its log under\n--data-dir, creating the events topic. Any Kafka client can use it.")
	dataDir := fs.String("data-dir", defaultDataDir, "directory for the Kafka log (kept across restarts); locked while the broker runs (<dir>/kafka.lock): a second one on it exits at once")
	listen := fs.String("listen", defaultKafkaAddr, "address to serve the Kafka protocol on")
	topic := fs.String("topic", wire.DefaultTopic, "topic to create if missing")
	partitions := fs.Int("partitions", wire.DefaultPartitions, "partitions of the topic when it is created")
	noSync := fs.Bool("no-sync", false, "do not fsync every produced batch (faster; a crash may lose acknowledged records)")
	sec := addBrokerSecurityFlags(fs)
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	if err := checkPositive(fs, "partitions"); err != nil {
		return err
	}
	cfg := broker.Config{DataDir: *dataDir, Topic: *topic, Partitions: int32(*partitions), NoSync: *noSync,
		Logger: log.With("component", "kafka")}
	if err := sec.apply(env, &cfg); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	ln, err := listenFlag("listen", *listen)
	if err != nil {
		return err
	}
	cfg.Listener = ln
	b, err := broker.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Kafka broker on %s (%s), topic %s, data in %s\n", b.Addr(), sec, *topic, *dataDir)
	<-ctx.Done()
	b.Close()
	return nil
}
