package main

import (
	"cmp"
	"context"
	"flag"
	"time"

	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "processor", summary: "merge bridge partials into per-match swarms on JetStream", run: runProcessor})
}

const processorSynopsis = "Merges the bridges' partials of every Kafka partition into one swarm per match and window,\n" +
	"published to the JetStream stream " + wire.SwarmsStream + " (viewers get them on emostream.live.<match>)."

// defaultProcessorOps is where the processor serves /metrics, /healthz
// and /readyz.
const defaultProcessorOps = "127.0.0.1:9103"

// processorFlags are the flags of "emostream processor"; most bind to the
// fields of cfg they set. "emostream up" adds only the ones it shares
// (alone false): the timeline and its crowd moments; up's own flags give
// the rest.
type processorFlags struct {
	alone             bool
	cfg               processor.Config
	cooldown, grace   time.Duration
	moments, timeline bool
	brokers           string
	nats              *natsFlags
	kafka             *kafkaSecurityFlags
	streams           *streamFlags
	ops               *opsFlags
}

func addProcessorFlags(fs *flag.FlagSet, alone bool) *processorFlags {
	f := &processorFlags{alone: alone}
	m := &f.cfg.Moments
	fs.Float64Var(&m.Factor, "moment-factor", processor.DefaultMomentFactor, "a crowd moment's window total is at least this many times the baseline (the median window total of --moment-baseline before it)")
	fs.Int64Var(&m.Floor, "moment-floor", processor.DefaultMomentFloor, "a crowd moment's window has at least this many reactions")
	fs.DurationVar(&m.Baseline, "moment-baseline", processor.DefaultMomentBaseline, "trailing stretch whose median window total is the baseline")
	fs.Float64Var(&m.Share, "moment-share", processor.DefaultMomentShare, "a crowd moment of one emoji: its share of a window at least this much (0.3: 30 points) above its recent share, with at least --moment-floor reactions; 0 turns this rule off")
	fs.DurationVar(&f.cooldown, "moment-cooldown", processor.DefaultMomentCooldown, "least time between two moments of a match (0: none)")
	fs.BoolVar(&f.moments, "moments", true, "detect crowd moments (false: none)")
	deprecateNegation(fs, "no-moments", "moments")
	fs.BoolVar(&f.timeline, "timeline", true, "write the timeline: records, rollups and moments (false: swarms only)")
	deprecateNegation(fs, "no-timeline", "timeline")
	if alone {
		f.addAlone(fs)
	}
	return f
}

// addAlone adds the flags of the processor run alone.
func (f *processorFlags) addAlone(fs *flag.FlagSet) {
	c := &f.cfg
	fs.StringVar(&f.brokers, "kafka-brokers", defaultKafkaAddr, "Kafka brokers asked for the topic's partition count, comma-separated")
	f.kafka = addKafkaSecurityFlags(fs)
	fs.StringVar(&c.Topic, "topic", wire.DefaultTopic, "Kafka topic of the events")
	fs.IntVar(&c.Partitions, "partitions", 0, "partition count; 0 reads it from Kafka's metadata")
	f.nats = addNATSFlags(fs, "nats://"+defaultNATSAddr, "NATS server holding the streams (user \"processor\")")
	fs.DurationVar(&c.Window, "window", wire.DefaultWindow, "window length")
	fs.DurationVar(&c.PartitionWait, "partition-wait", processor.DefaultPartitionWait, "how long after a window's end the partials of missing partitions are waited for (the window's deadline)")
	deprecate(fs, "deadline", "partition-wait")
	fs.DurationVar(&f.grace, "restart-grace", processor.DefaultRestartGrace, "after a start or takeover, how long a window past its deadline still waits for a partition not heard from yet or catching up (its events then count in their own window, not late); 0 turns it off")
	fs.Int64Var(&c.SwarmThreshold, "swarm-threshold", wire.DefaultSwarmThreshold, "identical emojis per swarm unit")
	f.streams = addStreamFlags(fs)
	f.streams.addReplicas(fs)
	fs.IntVar(&c.MaxOpenWindows, "max-open-windows", processor.DefaultMaxOpenWindows, "most windows open at once; past it the earliest closes at once")
	fs.IntVar(&c.MaxMatchStates, "max-match-states", processor.DefaultMaxMatchStates, "most matches' last-swarm states cached (the least recently used are dropped and read again when needed)")
	fs.IntVar(&c.MaxSwarmBytes, "max-swarm-bytes", processor.DefaultMaxSwarmBytes, "largest swarm, bytes of JSON (must fit the leaves' max_payload)")
	f.ops = addOpsFlags(fs, defaultProcessorOps, "address of /metrics, /healthz and /readyz; empty disables it (the default, if taken, is skipped with a warning: a hot standby on the same host)")
}

// config checks the flags and turns them into a processor.Config: in up,
// only its Moments and DisableTimeline.
func (f *processorFlags) config(fs *flag.FlagSet, env *environment) (processor.Config, error) {
	c := f.cfg
	if f.alone {
		if err := f.aloneConfig(fs, env, &c); err != nil {
			return c, err
		}
	}
	if err := checkPositive(fs, "moment-factor", "moment-floor", "moment-baseline"); err != nil {
		return c, err
	}
	if err := checkNotNegative(fs, "moment-cooldown", "moment-share"); err != nil {
		return c, err
	}
	c.Moments.Cooldown = max(f.cooldown, time.Nanosecond)
	if c.Moments.Share == 0 { // the rule off: no share rises by 1
		c.Moments.Share = 1
	}
	c.Moments.Disable, c.DisableTimeline = !f.moments, !f.timeline
	return c, nil
}

// settings names the flags that set processor.Config's fields, for its
// errors (flagError).
func (f *processorFlags) settings(fs *flag.FlagSet) settingFlags {
	return settingFlags{processor.ErrConfig, boundFlags(fs, &f.cfg, map[string]string{"KafkaBrokers": "kafka-brokers",
		"NATSURL": "nats", "RestartGrace": "restart-grace", "Moments.Cooldown": "moment-cooldown"})}
}

// aloneConfig checks the flags of the processor run alone and sets c's
// fields they do not bind.
func (f *processorFlags) aloneConfig(fs *flag.FlagSet, env *environment, c *processor.Config) error {
	if err := checkPositive(fs, "window", "partition-wait", "swarm-threshold", "max-open-windows", "max-match-states", "max-swarm-bytes"); err != nil {
		return err
	}
	if err := checkNotNegative(fs, "partitions", "restart-grace"); err != nil {
		return err
	}
	c.NATSURL, c.KafkaBrokers, c.RestartGrace = f.nats.o.URL, splitList(f.brokers), cmp.Or(f.grace, -1)
	var err error
	if c.Streams, err = f.streams.config(); err != nil {
		return err
	}
	if c.NATSOptions, err = f.nats.natsOptions(env); err != nil {
		return err
	}
	c.KafkaSecurity, err = f.kafka.security(env)
	return err
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
		return flagError(err, f.settings(fs))
	}
	ops, err := f.ops.listen(log, fs)
	if err != nil {
		return err
	}
	ops.announce(env.stdout, "processor")
	return ops.runBeside(ctx, "processor_metrics", reg, p.Ready, p.Run)
}
