package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/emostream/emostream/edge"
	"github.com/emostream/emostream/internal/clientip"
)

// Defaults of emostream edge.
const (
	defaultEdgeListen = "127.0.0.1:9222"
	defaultEdgeOps    = "127.0.0.1:9104"
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

// edgeFlags are the flags of "emostream edge": most bind to the fields of
// cfg they set.
type edgeFlags struct {
	cfg                             edge.Config
	listen, origins, proxies, pprof string
	maxPerNetwork                   int
	nats                            *natsFlags
	ops                             *opsFlags
}

func addEdgeFlags(fs *flag.FlagSet) *edgeFlags {
	f := &edgeFlags{}
	c := &f.cfg
	fs.StringVar(&f.listen, "listen", defaultEdgeListen, "address viewers connect to (WebSocket)")
	f.nats = addNATSFlags(fs, "nats://"+defaultNATSAddr, "NATS URL(s) of the leaf cluster (or hub) the edge reads from, its upstream (user edge)")
	deprecate(fs, "upstream", "nats")
	fs.StringVar(&c.Domain, "js-domain", "", `JetStream domain of the swarm stream as seen from --nats: "hub" on a leaf, empty on the hub`)
	fs.StringVar(&c.ID, "id", "", "name of this edge in occupancy reports; empty: host name and port")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate: serve wss:// (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated browser origins allowed to connect; empty for any (clients without an Origin always may)")
	fs.IntVar(&c.MaxConnections, "max-connections", edge.DefaultMaxConnections, "most viewers at once (keep below the open-file limit)")
	fs.IntVar(&f.maxPerNetwork, "max-per-network", edge.DefaultMaxPerNetwork, "most viewers from one client network (/24, /64; loopback unlimited), or --max-connections if lower, never above it; past 3/4 of --max-connections a network gets more only below its share, total / (networks + 1). Behind a proxy set --trusted-proxies, or all its viewers are one network")
	fs.StringVar(&f.proxies, "trusted-proxies", "", "CIDRs of proxies whose X-Forwarded-For is believed, comma-separated: a viewer through one counts in the network of the right-most address there that is not a trusted proxy")
	fs.IntVar(&c.MaxSubscriptions, "max-subscriptions", edge.DefaultMaxSubscriptions, "most subscriptions per viewer")
	fs.IntVar(&c.MaxControlLine, "max-control-line", edge.DefaultMaxControlLine, "longest protocol line, bytes")
	fs.IntVar(&c.MaxPayload, "max-payload", edge.DefaultMaxPayload, "largest request a viewer may send, bytes")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", edge.DefaultConnectTimeout, "time for CONNECT after the WebSocket handshake (the handshake itself: twice this)")
	fs.DurationVar(&c.PingInterval, "ping-interval", edge.DefaultPingInterval, "how often viewers are pinged")
	fs.IntVar(&c.MaxPingsOut, "max-pings-out", edge.DefaultMaxPingsOut, "unanswered pings before a viewer is cut off")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", edge.DefaultWriteTimeout, "checked on each ping: a viewer whose writes stall is cut off (slow consumer) within --ping-interval + this")
	deprecate(fs, "write-deadline", "write-timeout")
	fs.IntVar(&c.MaxPending, "max-pending", edge.DefaultMaxPending, "bytes waiting for one viewer before it is cut off (slow consumer)")
	fs.IntVar(&c.MaxMatches, "max-matches", edge.DefaultMaxMatches, "most matches with viewers on this edge")
	fs.IntVar(&c.RingSize, "ring-size", edge.DefaultRingSize, "recent swarms kept per match to answer next requests")
	fs.IntVar(&c.MaxUpstreamRequests, "max-upstream-requests", edge.DefaultMaxUpstreamRequests, "most direct gets in flight upstream (more: 503 to the viewer)")
	fs.DurationVar(&c.OccupancyInterval, "occupancy-interval", edge.DefaultOccupancyInterval, "how often viewer counts are reported (0: never)")
	fs.StringVar(&f.pprof, "pprof", "", "debug address serving /debug/pprof/ (heap, goroutine profiles); empty for none")
	f.ops = addOpsFlags(fs, defaultEdgeOps, "address of /metrics, /healthz and /readyz; empty disables it (the default, if taken, is skipped with a warning)")
	return f
}

// config checks the flags and turns them into an edge.Config, short of
// its listener, metrics and logger.
func (f *edgeFlags) config(fs *flag.FlagSet, env *environment) (edge.Config, error) {
	c := f.cfg
	if err := checkPositive(fs, "max-connections", "max-per-network", "max-subscriptions", "max-control-line", "max-payload",
		"connect-timeout", "ping-interval", "max-pings-out", "write-timeout", "max-pending", "max-matches", "ring-size",
		"max-upstream-requests"); err != nil {
		return c, err
	}
	if err := checkNotNegative(fs, "occupancy-interval"); err != nil {
		return c, err
	}
	var err error
	if c.TrustedProxies, err = clientip.ParsePrefixes(f.proxies); err != nil {
		return c, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if c.MaxPerNetwork, err = perNetwork(fs, "max-connections", "max-per-network", c.MaxConnections, f.maxPerNetwork, 0, ""); err != nil {
		return c, err
	}
	c.OccupancyInterval = zeroIsOff(env, "occupancy-interval", c.OccupancyInterval, "turns the reports off")
	c.NATSURL, c.AllowedOrigins, c.UpstreamTimeout = f.nats.o.URL, splitList(f.origins), edgeUpstreamTimeout
	c.NATSOptions, err = f.nats.natsOptions(env)
	return c, err
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
	e, ops, err := f.start(ctx, fs, env, log, cfg)
	if err != nil {
		return err
	}
	return ops.runBeside(ctx, "edge_metrics", reg, e.Ready, e.Run)
}

// start binds the edge's listeners (viewers, metrics, profiles) and builds
// the edge of cfg on them.
func (f *edgeFlags) start(ctx context.Context, fs *flag.FlagSet, env *environment, log *slog.Logger, cfg edge.Config) (*edge.Edge, *opsServer, error) {
	logFileLimit(log, env)
	ln, err := listenFlag("listen", f.listen)
	if err != nil {
		return nil, nil, err
	}
	cfg.Listener = ln
	e, err := edge.New(cfg)
	if err != nil {
		ln.Close()
		return nil, nil, flagError(err, settingFlags{edge.ErrConfig, boundFlags(fs, &f.cfg,
			map[string]string{"NATSURL": "nats", "MaxPerNetwork": "max-per-network", "Listener": "listen"})})
	}
	ops, err := f.ops.listen(log, fs)
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
	ops.announce(env.stdout, "edge")
	return e, ops, nil
}
