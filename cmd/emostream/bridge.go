package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

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

// bridgeFlags are the flags of "emostream bridge" that "emostream up" shares.
type bridgeFlags struct {
	brokers, topic, group, nats string
	window, closeDelay, horizon time.Duration
	dedupMax, maxPartialBytes   int
	streams                     *streamFlags
}

func addBridgeFlags(fs *flag.FlagSet) *bridgeFlags {
	f := &bridgeFlags{}
	fs.StringVar(&f.brokers, "kafka-brokers", defaultBridgeBroker, "Kafka bootstrap brokers, host:port,...")
	fs.StringVar(&f.topic, "topic", wire.DefaultTopic, "Kafka topic of accepted events")
	fs.StringVar(&f.group, "group", wire.DefaultGroup, "Kafka consumer group of the bridges")
	fs.StringVar(&f.nats, "nats", nats.DefaultURL, "NATS URL of the JetStream hub")
	fs.DurationVar(&f.window, "window", wire.DefaultWindow, "counting window length")
	fs.DurationVar(&f.closeDelay, "close-delay", bridge.DefaultCloseDelay, "how long after its end a window waits for its last records")
	fs.DurationVar(&f.horizon, "dedup-horizon", bridge.DefaultDedupHorizon, "how long a repeated event_id counts once (negative: off)")
	fs.IntVar(&f.dedupMax, "dedup-max", bridge.DefaultDedupMax, "most event_ids remembered per partition")
	fs.IntVar(&f.maxPartialBytes, "max-partial-bytes", bridge.DefaultMaxPartialBytes, "largest partial, bytes of JSON: a window with more keys is split into several partials (must fit the hub's max_payload)")
	f.streams = addStreamFlags(fs)
	return f
}

// config turns the flags into a bridge.Config.
func (f *bridgeFlags) config() (bridge.Config, error) {
	sc, err := f.streams.config()
	return bridge.Config{Brokers: splitList(f.brokers), Topic: f.topic, Group: f.group, NATSURL: f.nats,
		Window: f.window, CloseDelay: f.closeDelay, DedupHorizon: f.horizon, DedupMax: f.dedupMax,
		MaxPartialBytes: f.maxPartialBytes, Streams: sc}, err
}

func runBridge(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "bridge", bridgeSynopsis)
	f := addBridgeFlags(fs)
	metricsAddr := fs.String("metrics", "", "listen address of /metrics (empty: off)")
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	cfg, err := f.config()
	if err != nil {
		return err
	}
	cfg.Logger, cfg.Metrics = log, reg
	b, err := bridge.New(cfg)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("bridge: metrics: %w", err)
		}
		fmt.Fprintf(env.stdout, "bridge metrics on http://%s/metrics\n", ln.Addr())
		g.Go(func() error { return serveMetrics(ctx, ln, reg, b.Ready) })
	}
	g.Go(func() error { return b.Run(ctx) })
	return g.Wait()
}

// serveMetrics serves reg on ln at /metrics until ctx ends.
// With ready set, it also serves /healthz (200 while the process runs) and
// /readyz (503 with ready's error while it fails).
func serveMetrics(ctx context.Context, ln net.Listener, reg *prometheus.Registry, ready func() error) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if ready != nil {
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
		})
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				b, _ := json.Marshal(map[string]string{"status": "failing", "error": err.Error()})
				_, _ = w.Write(append(b, '\n'))
				return
			}
			_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
		})
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bridge: metrics: %w", err)
	}
	return nil
}
