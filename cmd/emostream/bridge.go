package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/bridge"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{
		name:    "bridge",
		summary: "Kafka → JetStream: one partial count per partition per window",
		run:     runBridge,
	})
}

const bridgeSynopsis = `Joins the Kafka consumer group of the bridges, and for every partition it is
assigned counts events per match and emoji per window of receive time, and
publishes one partial per window (empty ones too) to the JetStream stream
EMOSTREAM_PARTIALS. It resumes each partition from the last partial stored
for it, so a restart or rebalance neither skips nor repeats an event.`

// defaultBridgeBroker is the embedded broker's default address.
const defaultBridgeBroker = "127.0.0.1:9092"

// defaultBridgeOps is where the bridge serves /metrics, /healthz and
// /readyz (the processor's is 9103, ingest's 9100).
const defaultBridgeOps = "127.0.0.1:9102"

// bridgeFlags are the flags of "emostream bridge"; most bind to the fields
// of cfg they set.
type bridgeFlags struct {
	cfg                  bridge.Config
	brokers, dedupMemory string
	nats                 *natsFlags
	streams              *streamFlags
	kafka                *kafkaSecurityFlags
	ops                  *opsFlags
}

func addBridgeFlags(fs *flag.FlagSet) *bridgeFlags {
	f := &bridgeFlags{}
	c := &f.cfg
	fs.StringVar(&f.brokers, "kafka-brokers", defaultBridgeBroker, "Kafka bootstrap brokers, host:port,...")
	fs.StringVar(&c.Topic, "topic", wire.DefaultTopic, "Kafka topic of accepted events")
	fs.StringVar(&c.Group, "group", wire.DefaultGroup, "Kafka consumer group of the bridges")
	f.nats = addNATSFlags(fs, nats.DefaultURL, "NATS URL of the JetStream hub (user \"bridge\")")
	fs.DurationVar(&c.Window, "window", wire.DefaultWindow, "counting window length")
	fs.DurationVar(&c.CloseDelay, "close-delay", bridge.DefaultCloseDelay, "how long after its end a window waits for its last records")
	fs.DurationVar(&c.DedupHorizon, "dedup-horizon", bridge.DefaultDedupHorizon, "how long, in receive time, a repeated event_id counts once; no other client's load shortens it (at least 1s; 0: off)")
	fs.StringVar(&f.dedupMemory, "dedup-memory", fmt.Sprintf("%dMiB", bridge.DefaultDedupMemory>>20), "memory per partition for remembered event_ids, 14 bytes each (1MiB..16GiB): the default holds 3,460 ids/s for the horizon; while full, new ids count but are not remembered")
	fs.IntVar(&c.DedupPerUser, "dedup-per-user", bridge.DefaultDedupPerUser, fmt.Sprintf("most event_ids of one user_id remembered within the horizon, so no one user fills the memory (at most %d; 0: no cap)", bridge.MaxDedupPerUser))
	fs.DurationVar(&c.FreshLookback, "fresh-lookback", bridge.DefaultFreshLookback, "a partition with no partial in the store (a new JetStream store on an old topic) counts the records received this far back; older ones are history, skipped and reported (0: count the whole topic)")
	fs.IntVar(&c.MaxPartialBytes, "max-partial-bytes", bridge.DefaultMaxPartialBytes, "largest partial, bytes of JSON: a window with more keys is split into several partials (must fit the hub's max_payload)")
	f.streams = addStreamFlags(fs)
	f.streams.addReplicas(fs)
	f.kafka = addKafkaSecurityFlags(fs)
	f.ops = addOpsFlags(fs, defaultBridgeOps, "listen address of /metrics, /healthz and /readyz (empty: off; the default, if taken, is skipped with a warning)")
	return f
}

// config checks the flags and turns them into a bridge.Config.
func (f *bridgeFlags) config(fs *flag.FlagSet, env *environment) (bridge.Config, error) {
	c := f.cfg
	if err := checkPositive(fs, "window", "close-delay", "max-partial-bytes"); err != nil {
		return c, err
	}
	var err error
	if c.DedupMemory, err = f.checkDedup(); err != nil {
		return c, err
	}
	c.DedupHorizon = zeroIsOff(env, "dedup-horizon", c.DedupHorizon, "turns deduplication off")
	c.DedupPerUser = zeroIsOff(env, "dedup-per-user", c.DedupPerUser, "means no cap")
	c.FreshLookback = zeroIsOff(env, "fresh-lookback", c.FreshLookback, "counts the whole topic")
	c.KafkaBrokers, c.NATSURL = splitList(f.brokers), f.nats.o.URL
	if c.Streams, err = f.streams.config(); err != nil {
		return c, err
	}
	if c.KafkaSecurity, err = f.kafka.security(env); err != nil {
		return c, err
	}
	c.NATSOptions, err = f.nats.natsOptions(env)
	return c, err
}

// settings names the flags that set bridge.Config's fields, for its
// errors (flagError).
func (f *bridgeFlags) settings(fs *flag.FlagSet) settingFlags {
	return settingFlags{bridge.ErrConfig, boundFlags(fs, &f.cfg,
		map[string]string{"KafkaBrokers": "kafka-brokers", "NATSURL": "nats", "DedupMemory": "dedup-memory"})}
}

// checkDedup checks the --dedup-… flags and returns --dedup-memory in
// bytes.
func (f *bridgeFlags) checkDedup() (int64, error) {
	if h := f.cfg.DedupHorizon; h > 0 && h < time.Second {
		return 0, fmt.Errorf("--dedup-horizon %v: want at least 1s, or 0 to turn deduplication off", h)
	}
	mem, err := parseBytes(f.dedupMemory)
	if err != nil || mem < 1<<20 || mem > 16<<30 {
		return 0, fmt.Errorf("--dedup-memory %s: want a size from 1MiB to 16GiB, a whole number of B, KB, KiB, MB, MiB, GB or GiB (1536KiB, not 1.5MiB)", f.dedupMemory)
	}
	return mem, nil
}

func runBridge(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "bridge", bridgeSynopsis, args, addBridgeFlags)
	if err != nil {
		return err
	}
	cfg, err := f.config(fs, env)
	if err != nil {
		return err
	}
	reg := stageRegistry()
	cfg.Logger, cfg.Registerer = log, reg
	b, err := bridge.New(cfg)
	if err != nil {
		return flagError(err, f.settings(fs))
	}
	ops, err := f.ops.listen(log, fs)
	if err != nil {
		return err
	}
	ops.announce(env.stdout, "bridge")
	return ops.runBeside(ctx, "bridge_metrics", reg, b.Ready, b.Run)
}
