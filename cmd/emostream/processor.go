package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "processor", summary: "merge bridge partials into per-match swarms on JetStream", run: runProcessor})
}

const processorSynopsis = "Merges the bridges' partials of every Kafka partition into one swarm per match and window,\n" +
	"published to the JetStream stream " + wire.SwarmsStream + " (viewers get them on emostream.live.<match>)."

// defaultProcessorMetrics is where the processor serves /metrics.
const defaultProcessorMetrics = "127.0.0.1:9103"

// processorFlags are the flags of "emostream processor". "emostream up"
// adds only the ones it shares (alone false): the timeline and its crowd
// moments; up's own flags give the rest.
type processorFlags struct {
	alone bool
	// Shared with up.
	factor, share      float64
	floor              int64
	baseline, cooldown time.Duration
	noMoments, noTL    bool
	// The processor alone.
	brokers, topic                  string
	partitions                      int
	window, deadline, grace         time.Duration
	threshold                       int64
	maxWindows, maxStates, maxSwarm int
	nats                            *natsFlags
	kafka                           *kafkaSecurityFlags
	streams                         *streamFlags
	metrics                         *metricsFlags
}

func addProcessorFlags(fs *flag.FlagSet, alone bool) *processorFlags {
	f := &processorFlags{alone: alone}
	fs.Float64Var(&f.factor, "moment-factor", processor.DefaultMomentFactor, "a crowd moment's window total is at least this many times the baseline (the median window total of --moment-baseline before it)")
	fs.Int64Var(&f.floor, "moment-floor", processor.DefaultMomentFloor, "a crowd moment's window has at least this many reactions")
	fs.DurationVar(&f.baseline, "moment-baseline", processor.DefaultMomentBaseline, "trailing stretch whose median window total is the baseline")
	fs.Float64Var(&f.share, "moment-share", processor.DefaultMomentShare, "a crowd moment of one emoji: its share of a window at least this much (0.3: 30 points) above its recent share, with at least --moment-floor reactions; 1 turns this rule off")
	fs.DurationVar(&f.cooldown, "moment-cooldown", processor.DefaultMomentCooldown, "least time between two moments of a match")
	fs.BoolVar(&f.noMoments, "no-moments", false, "detect no crowd moments")
	fs.BoolVar(&f.noTL, "no-timeline", false, "write no timeline records, rollups or moments (swarms only)")
	if alone {
		f.addAlone(fs)
	}
	return f
}

// addAlone adds the flags of the processor run alone.
func (f *processorFlags) addAlone(fs *flag.FlagSet) {
	fs.StringVar(&f.brokers, "kafka-brokers", defaultKafkaAddr, "Kafka brokers asked for the topic's partition count, comma-separated")
	f.kafka = addKafkaSecurityFlags(fs)
	fs.StringVar(&f.topic, "topic", wire.DefaultTopic, "Kafka topic of the events")
	fs.IntVar(&f.partitions, "partitions", 0, "partition count; 0 reads it from Kafka's metadata")
	f.nats = addNATSFlags(fs, "nats://"+defaultNATSAddr, "NATS server holding the streams (user \"processor\")")
	fs.DurationVar(&f.window, "window", wire.DefaultWindow, "window length")
	fs.DurationVar(&f.deadline, "deadline", processor.DefaultDeadline, "how long after a window's end missing partitions are waited for")
	fs.DurationVar(&f.grace, "restart-grace", processor.DefaultRestartGrace, "after a start or takeover, how long a window past its deadline still waits for a partition not heard from yet or catching up (its events then count in their own window, not late); 0 turns it off")
	fs.Int64Var(&f.threshold, "swarm-threshold", wire.DefaultSwarmThreshold, "identical emojis per swarm unit")
	f.streams = addStreamFlags(fs)
	f.streams.addReplicas(fs)
	fs.IntVar(&f.maxWindows, "max-open-windows", processor.DefaultMaxOpenWindows, "most windows open at once; past it the earliest closes at once")
	fs.IntVar(&f.maxStates, "max-match-states", processor.DefaultMaxMatchStates, "most matches' last-swarm states cached (the least recently used are dropped and read again when needed)")
	fs.IntVar(&f.maxSwarm, "max-swarm-bytes", processor.DefaultMaxSwarmBytes, "largest swarm, bytes of JSON (must fit the leaves' max_payload)")
	f.metrics = addMetricsFlags(fs, defaultProcessorMetrics, "address of /metrics, /healthz and /readyz; empty disables it (the default, if taken, is skipped with a warning: a hot standby on the same host)")
}

// config checks the flags and turns them into a processor.Config: in up,
// only its Moments and DisableTimeline.
func (f *processorFlags) config(fs *flag.FlagSet, env *environment) (processor.Config, error) {
	var c processor.Config
	if f.alone {
		var err error
		if c, err = f.aloneConfig(fs, env); err != nil {
			return c, err
		}
	}
	if err := checkPositive(fs, "moment-factor", "moment-floor", "moment-baseline"); err != nil {
		return c, err
	}
	if f.cooldown < 0 {
		return c, fmt.Errorf("--moment-cooldown %v: want 0 or more", f.cooldown)
	}
	if err := checkPositive(fs, "moment-share"); err != nil {
		return c, err
	}
	c.Moments = processor.MomentRule{Factor: f.factor, Floor: f.floor, Baseline: f.baseline,
		Cooldown: max(f.cooldown, time.Nanosecond), Share: f.share, Off: f.noMoments}
	c.DisableTimeline = f.noTL
	return c, nil
}

// aloneConfig checks the flags of the processor run alone.
func (f *processorFlags) aloneConfig(fs *flag.FlagSet, env *environment) (processor.Config, error) {
	if !wire.ValidWindow(f.window) {
		return processor.Config{}, fmt.Errorf("--window %v: want whole milliseconds from 100ms to 1h", f.window)
	}
	if err := checkPositive(fs, "deadline", "swarm-threshold", "max-open-windows", "max-match-states", "max-swarm-bytes"); err != nil {
		return processor.Config{}, err
	}
	if err := checkNotNegative(fs, "partitions", "restart-grace"); err != nil {
		return processor.Config{}, err
	}
	c := processor.Config{NATSURL: f.nats.o.URL, KafkaBrokers: splitList(f.brokers), Topic: f.topic, Partitions: f.partitions,
		Window: f.window, Deadline: f.deadline, RestartGrace: cmp.Or(f.grace, -1), SwarmThreshold: f.threshold,
		MaxOpenWindows: f.maxWindows, MaxMatchStates: f.maxStates, MaxSwarmBytes: f.maxSwarm}
	var err error
	if c.Streams, err = f.streams.config(); err != nil {
		return c, err
	}
	if c.NATSOptions, err = f.nats.natsOptions(env); err != nil {
		return c, err
	}
	c.KafkaSecurity, err = f.kafka.security(env)
	return c, err
}

func runProcessor(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "processor", processorSynopsis, args, func(fs *flag.FlagSet) *processorFlags { return addProcessorFlags(fs, true) })
	if err != nil {
		return err
	}
	pc, err := f.config(fs, env)
	if err != nil {
		return err
	}
	reg := stageRegistry()
	pc.Registerer, pc.Logger = reg, log
	p, err := processor.New(pc)
	if err != nil {
		return err
	}
	ms, err := f.metrics.listen(log, fs)
	if err != nil {
		return err
	}
	return ms.runBeside(ctx, "processor_metrics", reg, p.Ready, p.Run)
}
