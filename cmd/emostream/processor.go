package main

import (
	"cmp"
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "processor", summary: "merge bridge partials into per-match swarms on JetStream", run: runProcessor})
}

// defaultProcessorMetrics is where the processor serves /metrics.
const defaultProcessorMetrics = "127.0.0.1:9103"

func runProcessor(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "processor", "Merges the bridges' partials of every Kafka partition into one swarm per match and window,\n"+
		"published to the JetStream stream "+wire.SwarmsStream+" (viewers get them on emostream.live.<match>).")
	brokers := fs.String("kafka-brokers", defaultKafkaAddr, "Kafka brokers asked for the topic's partition count, comma-separated")
	kf := addKafkaSecurityFlags(fs)
	topic := fs.String("topic", wire.DefaultTopic, "Kafka topic of the events")
	partitions := fs.Int("partitions", 0, "partition count; 0 reads it from Kafka's metadata")
	nf := addNATSFlags(fs, "nats://"+defaultNATSAddr, "NATS server holding the streams (user \"processor\")")
	window := fs.Duration("window", wire.DefaultWindow, "window length")
	deadline := fs.Duration("deadline", processor.DefaultDeadline, "how long after a window's end missing partitions are waited for")
	grace := fs.Duration("restart-grace", processor.DefaultRestartGrace, "after a start or takeover, how long a window past its deadline still waits for a partition not heard from yet or catching up (its events then count in their own window, not late); 0 turns it off")
	threshold := fs.Int64("swarm-threshold", wire.DefaultSwarmThreshold, "identical emojis per swarm unit")
	sf := addStreamFlags(fs)
	sf.addReplicas(fs)
	maxWindows := fs.Int("max-open-windows", processor.DefaultMaxOpenWindows, "most windows open at once; past it the earliest closes at once")
	maxStates := fs.Int("max-match-states", processor.DefaultMaxMatchStates, "most matches' last-swarm states cached (the least recently used are dropped and read again when needed)")
	maxSwarm := fs.Int("max-swarm-bytes", processor.DefaultMaxSwarmBytes, "largest swarm, bytes of JSON (must fit the leaves' max_payload)")
	mf := addMomentFlags(fs)
	mtf := addMetricsFlags(fs, defaultProcessorMetrics, "address of /metrics, /healthz and /readyz; empty disables it (the default, if taken, is skipped with a warning: a hot standby on the same host)")
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	if !wire.ValidWindow(*window) {
		return fmt.Errorf("--window %v: want whole milliseconds from 100ms to 1h", *window)
	}
	if err := checkPositive(fs, "deadline", "swarm-threshold", "max-open-windows", "max-match-states", "max-swarm-bytes"); err != nil {
		return err
	}
	if err := checkNotNegative(fs, "partitions", "restart-grace"); err != nil {
		return err
	}
	sc, err := sf.config()
	if err != nil {
		return err
	}
	natsOpts, err := nf.natsOptions(env)
	if err != nil {
		return err
	}
	ks, err := kf.security(env)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	pc := processor.Config{
		NATSURL: nf.o.URL, NATSOptions: natsOpts, KafkaBrokers: splitList(*brokers), KafkaSecurity: ks, Topic: *topic, Partitions: *partitions,
		Window: *window, Deadline: *deadline, RestartGrace: cmp.Or(*grace, -1), SwarmThreshold: *threshold, Registerer: reg, Logger: log,
		Streams: sc, MaxOpenWindows: *maxWindows, MaxMatchStates: *maxStates, MaxSwarmBytes: *maxSwarm,
	}
	if err := mf.apply(fs, &pc); err != nil {
		return err
	}
	p, err := processor.New(pc)
	if err != nil {
		return err
	}
	ms, err := mtf.listen(log, fs)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.Run(ctx) })
	if ms != nil {
		g.Go(func() error { return ms.serve(ctx, "processor_metrics", reg, p.Ready) })
	}
	return g.Wait()
}
