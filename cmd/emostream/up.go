package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/emostream/emostream/bridge"
	"github.com/emostream/emostream/internal/stack"
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

func runUp(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "up", upSynopsis)
	dataDir := fs.String("data-dir", defaultDataDir, "directory for the Kafka log and the JetStream store; locked while up runs (<dir>/kafka.lock, <dir>/jetstream.lock): a second process on it exits at once")
	httpAddr := fs.String("http", defaultHTTPAddr, "ingest API and web client (metrics and the admin API: --ops)")
	kafkaAddr := fs.String("kafka", defaultKafkaAddr, "embedded Kafka-protocol broker")
	natsAddr := fs.String("nats", defaultNATSAddr, "hub client port (stages connect here)")
	authDir := fs.String("nats-auth-dir", "", "directory of the hub client port's passwords (<user>.password, created if missing); empty: random ones per start, and clients without credentials are the admin user (loopback only)")
	leafAddr := fs.String("leafnodes", defaultLeafAddr, "hub leafnode port (leaf clusters connect here)")
	wsAddrs := fs.String("ws", defaultWSAddrs, "one leaf cluster per address, each serving NATS WebSocket to viewers (through an edge)")
	viewerEdge := fs.Bool("viewer-edge", true, "serve viewers through edges (emostream edge); false: the leaves' own nats-server WebSocket listeners, which let a viewer aim a request's reply at a live subject (trusted networks only)")
	monitor := fs.String("monitor", defaultMonitorAddr, "hub NATS monitoring endpoints (/varz, /connz, /leafz, /jsz); empty turns them off")
	partitions := fs.Int("partitions", wire.DefaultPartitions, "partitions of the events topic when the embedded broker creates it")
	sf := addStreamFlags(fs)
	mf := addMomentFlags(fs)
	freshLookback := fs.Duration("fresh-lookback", bridge.DefaultFreshLookback, "with --kafka-brokers and a new --data-dir: count the records received this far back; older ones are history (negative: count the whole topic)")
	f := addIngestFlags(fs)
	kf := addKafkaSecurityFlags(fs)
	af := addAdmissionFlags(fs)
	sec := addSecurityFlags(fs, "ops")
	demo := fs.String("demo-match", defaultDemoMatch, "match registered live at start if the registry lacks it; empty: none")
	natsLog := fs.String("nats-log", "", "log level of the hub's and leaves' nats-servers (banners, connections): debug, info, warn, error; empty: warn, or debug with --log-level debug")
	kb := fs.Lookup("kafka-brokers")
	kb.Usage, kb.DefValue = "external Kafka bootstrap brokers, host:port,...; empty runs the embedded broker on --kafka", ""
	_ = kb.Value.Set("")
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	edges := len(splitList(*wsAddrs))
	if !*viewerEdge {
		edges = 0
	}
	ic, err := f.config(fs, env.files, edges)
	if err != nil {
		return err
	}
	if err := checkPositive(fs, "partitions"); err != nil {
		return err
	}
	natsLogger, err := natsLogger(log, *natsLog, given(fs)["log-level"] && log.Enabled(ctx, slog.LevelDebug))
	if err != nil {
		return err
	}
	// Every address is checked before anything starts, so that a taken one
	// is one line naming its flag.
	for _, a := range []struct{ flag, addr string }{{"nats", *natsAddr}, {"leafnodes", *leafAddr}, {"monitor", *monitor}, {"ws", *wsAddrs}} {
		if err := checkFree(a.flag, splitList(a.addr)...); err != nil {
			return err
		}
	}
	logFileLimit(log, env)
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	auth := hubAuthFlags{authDir: *authDir}
	passwords, err := auth.passwords("up", *natsAddr)
	if err != nil {
		return err
	}
	cfg := stack.Config{DataDir: *dataDir, NATSPasswords: passwords, Partitions: int32(*partitions), HubListen: *natsAddr,
		LeafListen: *leafAddr, MonitorListen: *monitor, WebSocketListens: splitList(*wsAddrs), LeafWebSocket: !*viewerEdge,
		Window: f.window, SwarmThreshold: f.swarmThreshold, Ingest: ic, Logger: log}
	cfg.Edge.MaxConnections = edgeConns(env.files, ic.MaxConns, f.fdReserve, edges)
	if cfg.Bridge.Streams, err = sf.config(); err != nil {
		return err
	}
	cfg.Processor.Streams = cfg.Bridge.Streams
	if err := mf.apply(fs, &cfg.Processor); err != nil {
		return err
	}
	cfg.Bridge.FreshLookback = *freshLookback
	if err := af.apply(env, &cfg.Registry, &cfg.Ingest.AdminToken); err != nil {
		return err
	}
	if *demo != "" && !wire.ValidMatchID(*demo) {
		return fmt.Errorf("--demo-match %q: want 1-%d of A-Z a-z 0-9 _ -", *demo, wire.MaxMatchID)
	}
	cfg.DemoMatch = *demo
	if len(ic.KafkaBrokers) == 0 { // the embedded broker
		if cfg.KafkaListener, err = listenFlag("kafka", *kafkaAddr); err != nil {
			return err
		}
	} else {
		cfg.KafkaBrokers = ic.KafkaBrokers
	}
	if cfg.KafkaSecurity, err = kf.security(env); err != nil {
		return err
	}
	if cfg.Ingest.Listener, err = listenFlag("http", *httpAddr); err != nil {
		closeAll(cfg.KafkaListener)
		return err
	}
	if err := sec.apply(env, &cfg.Ingest); err != nil {
		closeAll(cfg.KafkaListener, cfg.Ingest.Listener)
		return fmt.Errorf("up: %w", err)
	}
	cfg.NATSLogger = natsLogger
	st, err := stack.StartContext(ctx, cfg)
	if err != nil {
		closeAll(cfg.KafkaListener, cfg.Ingest.Listener, cfg.Ingest.OpsListener)
		if ctx.Err() != nil {
			return fmt.Errorf("up: interrupted while starting")
		}
		return err
	}
	printURLs(env, st, *dataDir, *demo)
	go reloadOnHUP(ctx, log, st.Ingest)
	err = st.Run(ctx)
	fmt.Fprintln(env.stdout, "EmoStream stopped.")
	return err
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
	fmt.Fprintf(w, "  Kafka        %v   topic %s\n", st.KafkaBrokers(), wire.DefaultTopic)
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
