package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/edge"
)

// Defaults of emostream edge.
const (
	defaultEdgeListen  = "127.0.0.1:9222"
	defaultEdgeMetrics = "127.0.0.1:9104"
)

const edgeSynopsis = `Runs a viewer edge: it serves viewers NATS over WebSocket (ws://, or wss://
with --tls-cert) on an event loop, from one NATS connection to a leaf cluster
(or the hub). Viewers may only watch: subscribe to emostream.live.<match> (or
emostream.live.>) and their own inbox, and ask for a match's latest or next
stored swarm, which the edge answers from its cache; anything else gets
NATS's permissions error. Every --occupancy-interval it reports its viewers
per match on emostream.viewers.<id>. On a leaf give the leaf's client port
with user "edge" and --js-domain hub (docs/operations.md, "Edges").`

func init() {
	register(&command{name: "edge", summary: "serve viewers NATS over WebSocket from one connection to a leaf (viewers only watch)", run: runEdge})
}

func runEdge(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "edge", edgeSynopsis)
	listen := fs.String("listen", defaultEdgeListen, "address viewers connect to (WebSocket)")
	nf := addNATSFlagsURL(fs, "upstream", "nats://"+defaultNATSAddr, "NATS URL(s) of the leaf cluster (or hub) the edge reads from, comma-separated (user edge)")
	domain := fs.String("js-domain", "", `JetStream domain of the swarm stream as seen from --upstream: "hub" on a leaf, empty on the hub`)
	id := fs.String("id", "", "name of this edge in occupancy reports; empty: host name and port")
	cert := fs.String("tls-cert", "", "PEM certificate: serve wss:// (with --tls-key)")
	key := fs.String("tls-key", "", "PEM private key of --tls-cert")
	origins := fs.String("allowed-origins", "", "comma-separated browser origins allowed to connect; empty for any (clients without an Origin always may)")
	maxConns := fs.Int("max-connections", edge.DefaultMaxConnections, "most viewers at once (keep below the open-file limit)")
	maxPerNet := fs.Int("max-per-network", edge.DefaultMaxPerPrefix, "most viewers from one client network (/24, /64; loopback unlimited), or --max-connections if lower, never above it; past 3/4 of --max-connections a network gets more only below its share, total / (networks + 1)")
	maxSubs := fs.Int("max-subscriptions", edge.DefaultMaxSubscriptions, "most subscriptions per viewer")
	maxLine := fs.Int("max-control-line", edge.DefaultMaxControlLine, "longest protocol line, bytes")
	maxPayload := fs.Int("max-payload", edge.DefaultMaxPayload, "largest request a viewer may send, bytes")
	connectTimeout := fs.Duration("connect-timeout", edge.DefaultConnectTimeout, "time for the WebSocket handshake, then for CONNECT")
	pingInterval := fs.Duration("ping-interval", edge.DefaultPingInterval, "how often viewers are pinged")
	maxPings := fs.Int("max-pings-out", edge.DefaultMaxPingsOut, "unanswered pings before a viewer is cut off")
	writeDeadline := fs.Duration("write-deadline", edge.DefaultWriteDeadline, "checked on each ping: a viewer whose writes stall is cut off (slow consumer) within --ping-interval + this")
	maxPending := fs.Int("max-pending", edge.DefaultMaxPending, "bytes waiting for one viewer before it is cut off (slow consumer)")
	maxMatches := fs.Int("max-matches", edge.DefaultMaxMatches, "most matches with viewers on this edge")
	ring := fs.Int("ring-size", edge.DefaultRingSize, "recent swarms kept per match to answer next requests")
	maxUp := fs.Int("max-upstream-requests", edge.DefaultMaxUpstreamRequests, "most direct gets in flight upstream (more: 503 to the viewer)")
	occupancy := fs.Duration("occupancy-interval", edge.DefaultOccupancyInterval, "how often viewer counts are reported")
	pprofAddr := fs.String("pprof", "", "debug address serving /debug/pprof/ (heap, goroutine profiles); empty for none")
	mf := addMetricsFlags(fs, defaultEdgeMetrics, "address of /metrics, /healthz and /readyz; empty disables it (the default, if taken, is skipped with a warning)")
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	if err := checkPositive(fs, "max-connections", "max-per-network", "max-subscriptions", "max-control-line", "max-payload",
		"connect-timeout", "ping-interval", "max-pings-out", "write-deadline", "max-pending", "max-matches", "ring-size",
		"max-upstream-requests", "occupancy-interval"); err != nil {
		return err
	}
	perNet, err := perNetwork(fs, "max-connections", "max-per-network", *maxConns, *maxPerNet, 0, "")
	if err != nil {
		return err
	}
	natsOpts, err := nf.natsOptions(env)
	if err != nil {
		return err
	}
	logFileLimit(log, env)
	ln, err := listenFlag("listen", *listen)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	e, err := edge.New(edge.Config{Listener: ln, TLSCert: *cert, TLSKey: *key, Upstream: nf.o.URL, NATSOptions: natsOpts,
		Domain: *domain, ID: *id, AllowedOrigins: fanoutList(*origins), MaxConnections: *maxConns, MaxPerPrefix: perNet,
		MaxSubscriptions: *maxSubs, MaxControlLine: *maxLine, MaxPayload: *maxPayload, ConnectTimeout: *connectTimeout,
		PingInterval: *pingInterval, MaxPingsOut: *maxPings, WriteDeadline: *writeDeadline, MaxPending: *maxPending,
		MaxMatches: *maxMatches, RingSize: *ring, MaxUpstreamRequests: *maxUp, UpstreamTimeout: 2 * time.Second,
		OccupancyInterval: *occupancy, Registerer: reg, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	ms, err := mf.listen(log, fs)
	if err != nil {
		ln.Close()
		return err
	}
	if *pprofAddr != "" {
		u, err := servePprof(ctx, log, *pprofAddr)
		if err != nil {
			e.Close()
			return err
		}
		fmt.Fprintf(env.stdout, "edge: profiles on %s/debug/pprof/\n", u)
	}
	fmt.Fprintf(env.stdout, "edge: viewers connect to %s\n", e.URL())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.Run(ctx) })
	if ms != nil {
		g.Go(func() error { return ms.serve(ctx, "edge_metrics", reg, e.Ready) })
	}
	return g.Wait()
}
