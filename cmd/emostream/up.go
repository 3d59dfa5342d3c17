package main

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/emostream/emostream/internal/stack"
	"github.com/emostream/emostream/wire"
)

// Defaults of emostream up (DESIGN.md, "Command line").
const (
	defaultHTTPAddr    = "127.0.0.1:8080"
	defaultNATSAddr    = "127.0.0.1:4222"
	defaultLeafAddr    = "127.0.0.1:7422"
	defaultWSAddrs     = "127.0.0.1:9222,127.0.0.1:9223"
	defaultMonitorAddr = "127.0.0.1:8222"
	defaultDemoMatch   = "final-2026"
)

func init() {
	register(&command{
		name:    "up",
		summary: "run the whole pipeline on this machine: Kafka broker, ingest, bridge, processor, NATS hub and leaves",
		run:     runUp,
	})
}

const upSynopsis = `Starts everything on loopback, in pipeline order: the embedded Kafka-protocol
broker (data under --data-dir), ingest with the web client, the bridge, the
processor, the NATS hub with JetStream, and one leaf cluster per --ws address
serving NATS WebSocket to viewers. Prints the URLs; Ctrl-C stops it cleanly,
after every acknowledged event reached Kafka. With --kafka-brokers it uses
those brokers instead of the embedded one.`

func runUp(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "up", upSynopsis)
	dataDir := fs.String("data-dir", defaultDataDir, "directory for the Kafka log and the JetStream store")
	httpAddr := fs.String("http", defaultHTTPAddr, "ingest API, web client and /metrics")
	kafkaAddr := fs.String("kafka", defaultKafkaAddr, "embedded Kafka-protocol broker")
	natsAddr := fs.String("nats", defaultNATSAddr, "hub client port (stages connect here)")
	leafAddr := fs.String("leafnodes", defaultLeafAddr, "hub leafnode port (leaf clusters connect here)")
	wsAddrs := fs.String("ws", defaultWSAddrs, "one leaf cluster per address, each serving NATS WebSocket to viewers")
	monitor := fs.String("monitor", defaultMonitorAddr, "hub NATS monitoring endpoints (/varz, /connz, /leafz, /jsz); empty turns them off")
	partitions := fs.Int("partitions", wire.DefaultPartitions, "partitions of the events topic when the embedded broker creates it")
	sf := addStreamFlags(fs)
	f := addIngestFlags(fs)
	af := addAdmissionFlags(fs)
	demo := fs.String("demo-match", defaultDemoMatch, "match registered live at start if the registry lacks it; empty: none")
	kb := fs.Lookup("kafka-brokers")
	kb.Usage, kb.DefValue = "external Kafka bootstrap brokers, host:port,...; empty runs the embedded broker on --kafka", ""
	_ = kb.Value.Set("")
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	logFileLimit(log, env)
	ic, err := f.config()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	cfg := stack.Config{DataDir: *dataDir, Partitions: int32(*partitions), HubListen: *natsAddr,
		LeafListen: *leafAddr, MonitorListen: *monitor, WebSocketListens: splitList(*wsAddrs),
		Window: f.window, SwarmThreshold: f.swarmThreshold, Ingest: ic, Logger: log}
	if cfg.Bridge.Streams, err = sf.config(); err != nil {
		return err
	}
	cfg.Processor.Streams = cfg.Bridge.Streams
	if err := af.apply(env, &cfg.Registry, &cfg.Ingest.AdminToken); err != nil {
		return err
	}
	if *demo != "" && !wire.ValidMatchID(*demo) {
		return fmt.Errorf("--demo-match %q: want 1-%d of A-Z a-z 0-9 _ -", *demo, wire.MaxMatchID)
	}
	cfg.DemoMatch = *demo
	if len(ic.Brokers) == 0 { // the embedded broker
		if cfg.KafkaListener, err = net.Listen("tcp", *kafkaAddr); err != nil {
			return fmt.Errorf("up: kafka: %w", err)
		}
	} else {
		cfg.KafkaBrokers = ic.Brokers
	}
	if cfg.Ingest.Listener, err = net.Listen("tcp", *httpAddr); err != nil {
		return fmt.Errorf("up: http: %w", err)
	}
	st, err := stack.Start(cfg)
	if err != nil {
		return err
	}
	printURLs(env, st, *dataDir, *demo)
	err = st.Run(ctx)
	fmt.Fprintln(env.stdout, "EmoStream stopped.")
	return err
}

func printURLs(env *environment, st *stack.Stack, dataDir, demo string) {
	w := env.stdout
	fmt.Fprintf(w, "EmoStream is up. Data in %s. Ctrl-C stops it.\n", dataDir)
	fmt.Fprintf(w, "  web client   %s/\n", st.HTTPURL())
	fmt.Fprintf(w, "  ingest API   %s/v1/emojis   (metrics: %s/metrics)\n", st.HTTPURL(), st.HTTPURL())
	fmt.Fprintf(w, "  Kafka        %v   topic %s\n", st.KafkaBrokers(), wire.DefaultTopic)
	fmt.Fprintf(w, "  NATS hub     %s", st.NATSURL())
	if m := st.Hub.MonitorURL(); m != "" {
		fmt.Fprintf(w, "   (monitoring: %s/varz)", m)
	}
	fmt.Fprintln(w)
	for i, u := range st.WebSocketURLs() {
		fmt.Fprintf(w, "  WebSocket    %s   (leaf cluster %d)\n", u, i+1)
	}
	if demo == "" {
		demo = "final-2026"
		fmt.Fprintf(w, "Matches: emostream match create --id %s --live   (reactions need a live match)\n", demo)
	} else {
		fmt.Fprintf(w, "Match %s is live; more with: emostream match create --id ID --live\n", demo)
	}
	fmt.Fprintf(w, "Try: emostream send --match %s --emoji 🔥 --count 2500\n", demo)
	fmt.Fprintf(w, "     emostream watch --ws %s --match %s\n", st.WebSocketURLs()[0], demo)
}
