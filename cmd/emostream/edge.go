package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

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

// edgeUpstreamTimeout bounds a direct get the edge asks of its upstream.
const edgeUpstreamTimeout = 2 * time.Second

// edgeFlags are the flags of "emostream edge".
type edgeFlags struct {
	listen, domain, id, cert, key, origins, pprof          string
	maxConns, maxPerNet, maxSubs, maxLine, maxPayload      int
	maxPings, maxPending, maxMatches, ring, maxUp          int
	connectTimeout, pingInterval, writeDeadline, occupancy time.Duration
	nats                                                   *natsFlags
	metrics                                                *metricsFlags
}

func addEdgeFlags(fs *flag.FlagSet) *edgeFlags {
	f := &edgeFlags{}
	fs.StringVar(&f.listen, "listen", defaultEdgeListen, "address viewers connect to (WebSocket)")
	f.nats = addNATSFlagsURL(fs, "upstream", "nats://"+defaultNATSAddr, "NATS URL(s) of the leaf cluster (or hub) the edge reads from, comma-separated (user edge)")
	fs.StringVar(&f.domain, "js-domain", "", `JetStream domain of the swarm stream as seen from --upstream: "hub" on a leaf, empty on the hub`)
	fs.StringVar(&f.id, "id", "", "name of this edge in occupancy reports; empty: host name and port")
	fs.StringVar(&f.cert, "tls-cert", "", "PEM certificate: serve wss:// (with --tls-key)")
	fs.StringVar(&f.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated browser origins allowed to connect; empty for any (clients without an Origin always may)")
	fs.IntVar(&f.maxConns, "max-connections", edge.DefaultMaxConnections, "most viewers at once (keep below the open-file limit)")
	fs.IntVar(&f.maxPerNet, "max-per-network", edge.DefaultMaxPerPrefix, "most viewers from one client network (/24, /64; loopback unlimited), or --max-connections if lower, never above it; past 3/4 of --max-connections a network gets more only below its share, total / (networks + 1)")
	fs.IntVar(&f.maxSubs, "max-subscriptions", edge.DefaultMaxSubscriptions, "most subscriptions per viewer")
	fs.IntVar(&f.maxLine, "max-control-line", edge.DefaultMaxControlLine, "longest protocol line, bytes")
	fs.IntVar(&f.maxPayload, "max-payload", edge.DefaultMaxPayload, "largest request a viewer may send, bytes")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", edge.DefaultConnectTimeout, "time for the WebSocket handshake, then for CONNECT")
	fs.DurationVar(&f.pingInterval, "ping-interval", edge.DefaultPingInterval, "how often viewers are pinged")
	fs.IntVar(&f.maxPings, "max-pings-out", edge.DefaultMaxPingsOut, "unanswered pings before a viewer is cut off")
	fs.DurationVar(&f.writeDeadline, "write-deadline", edge.DefaultWriteDeadline, "checked on each ping: a viewer whose writes stall is cut off (slow consumer) within --ping-interval + this")
	fs.IntVar(&f.maxPending, "max-pending", edge.DefaultMaxPending, "bytes waiting for one viewer before it is cut off (slow consumer)")
	fs.IntVar(&f.maxMatches, "max-matches", edge.DefaultMaxMatches, "most matches with viewers on this edge")
	fs.IntVar(&f.ring, "ring-size", edge.DefaultRingSize, "recent swarms kept per match to answer next requests")
	fs.IntVar(&f.maxUp, "max-upstream-requests", edge.DefaultMaxUpstreamRequests, "most direct gets in flight upstream (more: 503 to the viewer)")
	fs.DurationVar(&f.occupancy, "occupancy-interval", edge.DefaultOccupancyInterval, "how often viewer counts are reported")
	fs.StringVar(&f.pprof, "pprof", "", "debug address serving /debug/pprof/ (heap, goroutine profiles); empty for none")
	f.metrics = addMetricsFlags(fs, defaultEdgeMetrics, "address of /metrics, /healthz and /readyz; empty disables it (the default, if taken, is skipped with a warning)")
	return f
}

// config checks the flags and turns them into an edge.Config, short of
// its listener, metrics and logger.
func (f *edgeFlags) config(fs *flag.FlagSet, env *environment) (edge.Config, error) {
	if err := checkPositive(fs, "max-connections", "max-per-network", "max-subscriptions", "max-control-line", "max-payload",
		"connect-timeout", "ping-interval", "max-pings-out", "write-deadline", "max-pending", "max-matches", "ring-size",
		"max-upstream-requests", "occupancy-interval"); err != nil {
		return edge.Config{}, err
	}
	perNet, err := perNetwork(fs, "max-connections", "max-per-network", f.maxConns, f.maxPerNet, 0, "")
	if err != nil {
		return edge.Config{}, err
	}
	natsOpts, err := f.nats.natsOptions(env)
	if err != nil {
		return edge.Config{}, err
	}
	return edge.Config{TLSCert: f.cert, TLSKey: f.key, Upstream: f.nats.o.URL, NATSOptions: natsOpts,
		Domain: f.domain, ID: f.id, AllowedOrigins: splitList(f.origins), MaxConnections: f.maxConns, MaxPerPrefix: perNet,
		MaxSubscriptions: f.maxSubs, MaxControlLine: f.maxLine, MaxPayload: f.maxPayload, ConnectTimeout: f.connectTimeout,
		PingInterval: f.pingInterval, MaxPingsOut: f.maxPings, WriteDeadline: f.writeDeadline, MaxPending: f.maxPending,
		MaxMatches: f.maxMatches, RingSize: f.ring, MaxUpstreamRequests: f.maxUp, UpstreamTimeout: edgeUpstreamTimeout,
		OccupancyInterval: f.occupancy}, nil
}

func runEdge(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "edge", edgeSynopsis, args, addEdgeFlags)
	if err != nil {
		return err
	}
	cfg, err := f.config(fs, env)
	if err != nil {
		return err
	}
	reg := stageRegistry()
	cfg.Registerer, cfg.Logger = reg, log
	e, ms, err := f.start(ctx, fs, env, log, cfg)
	if err != nil {
		return err
	}
	return ms.runBeside(ctx, "edge_metrics", reg, e.Ready, e.Run)
}

// start binds the edge's listeners (viewers, metrics, profiles) and builds
// the edge of cfg on them.
func (f *edgeFlags) start(ctx context.Context, fs *flag.FlagSet, env *environment, log *slog.Logger, cfg edge.Config) (*edge.Edge, *metricsServer, error) {
	logFileLimit(log, env)
	ln, err := listenFlag("listen", f.listen)
	if err != nil {
		return nil, nil, err
	}
	cfg.Listener = ln
	e, err := edge.New(cfg)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	ms, err := f.metrics.listen(log, fs)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	if f.pprof != "" {
		u, err := servePprof(ctx, log, f.pprof)
		if err != nil {
			e.Close()
			return nil, nil, err
		}
		fmt.Fprintf(env.stdout, "edge: profiles on %s/debug/pprof/\n", u)
	}
	fmt.Fprintf(env.stdout, "edge: viewers connect to %s\n", e.URL())
	return e, ms, nil
}
