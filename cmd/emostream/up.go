package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/emostream/emostream/bridge"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// Defaults of emostream up (docs/design.md, "Command line").
const (
	defaultHTTPAddr    = "127.0.0.1:8080"
	defaultNATSAddr    = "127.0.0.1:4222"
	defaultLeafAddr    = "127.0.0.1:7422"
	defaultWSAddrs     = "127.0.0.1:9222,127.0.0.1:9223"
	defaultMonitorAddr = "127.0.0.1:8222"
	defaultDemoMatch   = "final-2026"
	// defaultViewerEdge serves viewers through edges, not the leaves'
	// own WebSocket listeners.
	defaultViewerEdge = true
	// defaultIngestURL is up's ingest, which send and timeline talk to.
	defaultIngestURL = "http://" + defaultHTTPAddr
)

func init() {
	register(&command{
		name:    "up",
		summary: "run the whole pipeline on this machine: Kafka broker, ingest, bridge, processor, NATS hub, leaves and their viewer edges",
		run:     runUp,
	})
}

const upSynopsis = `Starts everything on loopback, in pipeline order: the embedded Kafka-protocol
broker (data under --data-dir), ingest with the web client, the bridge, the
processor, the NATS hub with JetStream, and one leaf cluster per --ws address,
each with a viewer edge serving NATS WebSocket to viewers there (with
--viewer-edge=false the leaf's own nats-server WebSocket listener serves them
instead: trusted networks only, docs/security.md). Prints the URLs; Ctrl-C stops it cleanly,
after every acknowledged event reached Kafka. With --kafka-brokers it uses
those brokers instead of the embedded one.`

// upFlags are the flags of "emostream up", in pipeline order: the Kafka
// broker, ingest, the bridge and the processor, the hub, the leaves and
// their edges.
type upFlags struct {
	dataDir, kafkaAddr                   string
	partitions                           int
	httpAddr, demo                       string
	ingest                               *ingestFlags
	streams                              *streamFlags
	freshLookback                        time.Duration
	processor                            *processorFlags
	natsAddr, authDir, leafAddr, monitor string
	natsLog, wsAddrs                     string
	viewerEdge                           bool
}

func addUpFlags(fs *flag.FlagSet, env *environment) *upFlags {
	f := &upFlags{}
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir, "directory for the Kafka log and the JetStream store; locked while up runs (<dir>/kafka.lock, <dir>/jetstream.lock): a second process on it exits at once")
	fs.StringVar(&f.kafkaAddr, "kafka", defaultKafkaAddr, "embedded Kafka-protocol broker")
	fs.IntVar(&f.partitions, "partitions", stack.DefaultPartitions, fmt.Sprintf("partitions of the events topic when the embedded broker creates it, 1 to %d (a data directory that has the topic keeps its count)", kafkaconn.MaxPartitions))
	fs.StringVar(&f.httpAddr, "http", defaultHTTPAddr, "ingest API and web client (metrics and the admin API: --ops)")
	f.ingest = addIngestFlags(fs, env, ingestInUp)
	fs.StringVar(&f.demo, "demo-match", defaultDemoMatch, "match registered live at start if the registry lacks it; empty: none")
	f.streams = addStreamFlags(fs)
	fs.DurationVar(&f.freshLookback, "fresh-lookback", bridge.DefaultFreshLookback, "with --kafka-brokers and a new --data-dir: count the records received this far back; older ones are history (0: count the whole topic)")
	f.processor = addProcessorFlags(fs, false)
	fs.StringVar(&f.natsAddr, "nats", defaultNATSAddr, "hub client port (stages connect here)")
	fs.StringVar(&f.authDir, "nats-auth-dir", "", "directory of the hub client port's passwords (<user>.password, created if missing); empty: random ones per start, and clients without credentials are the admin user (loopback only)")
	fs.StringVar(&f.leafAddr, "leafnodes", defaultLeafAddr, "hub leafnode port (leaf clusters connect here)")
	fs.StringVar(&f.monitor, "monitor", defaultMonitorAddr, "hub NATS monitoring endpoints (/varz, /connz, /leafz, /jsz); empty turns them off")
	fs.StringVar(&f.natsLog, "nats-log", "", "log level of the hub's and leaves' nats-servers (banners, connections): debug, info, warn, error; empty: warn, or debug with --log-level debug")
	fs.StringVar(&f.wsAddrs, "ws", defaultWSAddrs, "one leaf cluster per address, each serving NATS WebSocket to viewers (through an edge)")
	fs.BoolVar(&f.viewerEdge, "viewer-edge", defaultViewerEdge, "serve viewers through edges (emostream edge); false: the leaves' own nats-server WebSocket listeners, which let a viewer aim a request's reply at a live subject (trusted networks only)")
	return f
}

func runUp(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "up", upSynopsis, args, func(fs *flag.FlagSet) *upFlags { return addUpFlags(fs, env) })
	if err != nil {
		return err
	}
	cfg, err := f.config(ctx, fs, env, log)
	if err != nil {
		return err
	}
	return f.start(ctx, fs, env, log, cfg)
}

// edges is how many viewer edges up runs: one per leaf, unless the leaves
// serve viewers themselves. An empty --ws is one leaf on a free port
// (stack.Config.WebSocketListens).
func (f *upFlags) edges() int {
	if !f.viewerEdge {
		return 0
	}
	return max(len(splitList(f.wsAddrs)), 1)
}

// config checks the flags and builds the stack they describe, stage by
// stage in pipeline order. It binds nothing and starts nothing.
func (f *upFlags) config(ctx context.Context, fs *flag.FlagSet, env *environment, log *slog.Logger) (stack.Config, error) {
	// Kafka: the embedded broker on --kafka, or ingest's --kafka-brokers.
	if err := checkPartitions(f.partitions, 1); err != nil {
		return stack.Config{}, err
	}
	cfg := stack.Config{DataDir: f.dataDir, Partitions: int32(f.partitions), Logger: log}
	var err error
	// Ingest, whose brokers, Kafka security, window and swarm threshold
	// every stage shares.
	if cfg.Ingest, cfg.Registry, err = f.ingest.config(fs, env, f.edges()); err != nil {
		return cfg, err
	}
	cfg.KafkaBrokers, cfg.KafkaSecurity = cfg.Ingest.KafkaBrokers, cfg.Ingest.KafkaSecurity
	cfg.Window, cfg.SwarmThreshold = cfg.Ingest.Window, cfg.Ingest.SwarmThreshold
	if f.demo != "" {
		if err := wire.CheckMatchID(f.demo); err != nil {
			return cfg, fmt.Errorf("--demo-match %w", err)
		}
	}
	cfg.DemoMatch = f.demo
	// The bridge and the processor, on the same streams.
	if cfg.Bridge.Streams, err = f.streams.config(); err != nil {
		return cfg, err
	}
	cfg.Bridge.FreshLookback = zeroIsOff(env, "fresh-lookback", f.freshLookback, "counts the whole topic")
	if cfg.Processor, err = f.processor.config(fs, env); err != nil {
		return cfg, err
	}
	cfg.Processor.Streams = cfg.Bridge.Streams
	// The hub, the leaves and their edges.
	cfg.HubListen, cfg.LeafListen, cfg.MonitorListen = f.natsAddr, f.leafAddr, f.monitor
	cfg.WebSocketListens, cfg.LeafWebSocket = splitList(f.wsAddrs), !f.viewerEdge
	cfg.Edge.MaxConnections = edgeConns(env.files, cfg.Ingest.MaxConnections, cfg.Ingest.FDReserve, f.edges())
	if cfg.NATSLogger, err = natsLogger(log, f.natsLog, given(fs)["log-level"] && log.Enabled(ctx, slog.LevelDebug)); err != nil {
		return cfg, err
	}
	return cfg, flagError(cfg.Validate(), f.settings(fs)...) // before anything is bound or started
}

// settings name the flags that set the fields of the stack's Config and
// of the stages' it carries, for their errors (flagError).
func (f *upFlags) settings(fs *flag.FlagSet) []settingFlags {
	stackFlags := map[string]string{"DataDir": "data-dir", "Partitions": "partitions", "KafkaBrokers": "kafka-brokers",
		"Window": "window", "SwarmThreshold": "swarm-threshold", "DemoMatch": "demo-match", "HubListen": "nats",
		"LeafListen": "leafnodes", "MonitorListen": "monitor", "WebSocketListens": "ws", "LeafWebSocket": "viewer-edge"}
	return []settingFlags{{stack.ErrConfig, stackFlags}, f.ingest.settings(fs, "http"), f.processor.settings(fs)}
}

// start checks that up's addresses are free, binds its listeners, starts
// the stack of cfg and runs it until ctx ends.
func (f *upFlags) start(ctx context.Context, fs *flag.FlagSet, env *environment, log *slog.Logger, cfg stack.Config) error {
	// Every address is checked before anything starts, so that a taken one
	// is one line naming its flag: taken by another of up's, or by another
	// process.
	kafka := f.kafkaAddr
	if len(cfg.KafkaBrokers) > 0 {
		kafka = "" // not served
	}
	if err := checkDistinct([]flagAddr{{"kafka", kafka}, {"http", f.httpAddr}, {"ops", f.ingest.security.ops},
		{"nats", f.natsAddr}, {"leafnodes", f.leafAddr}, {"monitor", f.monitor}, {"ws", f.wsAddrs}}); err != nil {
		return err
	}
	for _, a := range []flagAddr{{"nats", f.natsAddr}, {"leafnodes", f.leafAddr}, {"monitor", f.monitor}, {"ws", f.wsAddrs}} {
		if err := checkFree(a.flag, splitList(a.addr)...); err != nil {
			return err
		}
	}
	logFileLimit(log, env)
	if len(cfg.KafkaBrokers) == 0 { // the embedded broker fsyncs
		log.Debug("processors", "gomaxprocs", raiseProcs(env))
	}
	if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	var err error
	if cfg.NATSPasswords, err = stagePasswords("up", f.authDir, f.natsAddr); err != nil {
		return err
	}
	if err := f.listen(&cfg); err != nil {
		return err
	}
	st, err := stack.StartContext(ctx, cfg)
	if err != nil {
		closeAll(cfg.KafkaListener, cfg.Ingest.Listener, cfg.Ingest.OpsListener)
		if ctx.Err() != nil {
			return fmt.Errorf("up: interrupted while starting")
		}
		return flagError(err, f.settings(fs)...)
	}
	printURLs(env, st, f.dataDir, f.demo)
	go reloadOnHUP(ctx, log, st.Ingest)
	err = st.Run(ctx)
	fmt.Fprintln(env.stdout, "EmoStream stopped.")
	return err
}

// listen binds the embedded broker's listener (without --kafka-brokers),
// ingest's and its ops listener.
func (f *upFlags) listen(cfg *stack.Config) (err error) {
	if len(cfg.KafkaBrokers) == 0 {
		if cfg.KafkaListener, err = listenFlag("kafka", f.kafkaAddr); err != nil {
			return err
		}
	}
	if cfg.Ingest.Listener, err = listenFlag("http", f.httpAddr); err != nil {
		closeAll(cfg.KafkaListener)
		return err
	}
	if cfg.Ingest.OpsListener, err = f.ingest.security.listenOps(); err != nil {
		closeAll(cfg.KafkaListener, cfg.Ingest.Listener)
		return fmt.Errorf("up: %w", err)
	}
	return nil
}

// closeAll closes the listeners that are not nil (those a failed start
// did not hand on).
func closeAll(lns ...net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// natsLogger is the logger of up's nats-servers: log at level (empty: warn,
// or debug when debug is asked for everything).
func natsLogger(log *slog.Logger, level string, debug bool) (*slog.Logger, error) {
	lvl := slog.LevelWarn
	if debug {
		lvl = slog.LevelDebug
	}
	if level != "" {
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("--nats-log: %w", err)
		}
	}
	return slog.New(minLevel{log.Handler(), lvl}), nil
}

// minLevel passes on the records of at least level min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(g string) slog.Handler { return minLevel{h.Handler.WithGroup(g), h.min} }

func printURLs(env *environment, st *stack.Stack, dataDir, demo string) {
	w := env.stdout
	fmt.Fprintf(w, "EmoStream is up. Data in %s. Ctrl-C stops it.\n", dataDir)
	fmt.Fprintf(w, "  web client   %s/\n", st.HTTPURL())
	fmt.Fprintf(w, "  ingest API   %s/v1/emojis   (metrics: http://%s/metrics)\n", st.HTTPURL(), st.Ingest.OpsAddr())
	fmt.Fprintf(w, "  Kafka        %v   topic %s\n", st.KafkaBrokers(), st.Topic())
	fmt.Fprintf(w, "  NATS hub     %s", st.NATSURL())
	if m := st.Hub.MonitorURL(); m != "" {
		fmt.Fprintf(w, "   (monitoring: %s/varz)", m)
	}
	fmt.Fprintln(w)
	via := "edge of leaf cluster"
	if len(st.Edges) == 0 {
		via = "leaf cluster"
	}
	for i, u := range st.WebSocketURLs() {
		fmt.Fprintf(w, "  WebSocket    %s   (%s %d)\n", u, via, i+1)
	}
	if demo == "" {
		demo = "final-2026"
		fmt.Fprintf(w, "Matches: emostream match create --id %s --live   (reactions need a live match)\n", demo)
	} else {
		fmt.Fprintf(w, "Match %s is live; more with: emostream match create --id ID --live\n", demo)
	}
	fmt.Fprintf(w, "Try: emostream send --target %s --match %s --emoji 🔥 --count 2500\n", st.HTTPURL(), demo)
	fmt.Fprintf(w, "     emostream watch --ws %s --match %s\n", st.WebSocketURLs()[0], demo)
}
