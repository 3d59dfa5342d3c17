package main

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/emostream/emostream/fanout"
)

const leafSynopsis = `Runs a leaf cluster node, a cluster publisher: an embedded nats-server that
connects to the hub (or to another leaf) as a leafnode and serves viewers over
NATS WebSocket. Viewers are anonymous and may only subscribe to
emostream.live.> and read the latest swarm of a match.
With -c it loads a standard nats-server .conf (see deploy/leaf-a.conf);
--name, --remote, --ws, --leafnodes, --monitor, --allowed-origins and
--max-connections, when given, override the file's values, as nats-server's
own flags do. Without -c it builds the same configuration from the flags below.
A file that enables JetStream locks its store_dir (<store_dir>/jetstream.lock):
a second leaf of the same store exits at once.`

func init() {
	register(&command{name: "leaf", summary: "run a leaf cluster nats-server (WebSocket viewers)", run: runLeaf})
}

func runLeaf(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "leaf", leafSynopsis)
	conf := fs.String("c", "", "nats-server .conf to load; the flags named above override its values when given")
	name := fs.String("name", fanout.DefaultLeafName, "server name")
	remote := fs.String("remote", "", "hub leafnode URL(s) with credentials, comma-separated (as printed by emostream hub); also in the form deploy/leaf-*.conf read from the same variable, [url1, url2] (every member of a hub cluster)")
	ws := fs.String("ws", fanout.DefaultWebSocketListen, "WebSocket address viewers connect to")
	leafs := fs.String("leafnodes", "", "leafnode address for leaves of this leaf; empty for none")
	monitor := fs.String("monitor", "", "monitoring address (/varz /connz /subsz /leafz); empty for none")
	cert := fs.String("tls-cert", "", "PEM certificate: serve wss:// (with --tls-key)")
	key := fs.String("tls-key", "", "PEM private key of --tls-cert")
	remoteCA := fs.String("remote-ca", "", "PEM CA that verifies the hub's (or parent leaf's) leafnode certificate: TLS to the remote")
	remoteCert := fs.String("remote-cert", "", "PEM client certificate for the remote, when it verifies leaves (with --remote-key)")
	remoteKey := fs.String("remote-key", "", "PEM private key of --remote-cert")
	origins := fs.String("allowed-origins", "", "comma-separated browser origins allowed to connect; empty for any")
	maxConns := fs.Int("max-connections", fanout.DefaultLeafMaxConns, "most viewers (and leaves) at once; keep below the open-file limit")
	gcPercent := fs.String("gc-percent", defaultLeafGCPercent, "Go GC target percent of the leaf process (as GOGC, which it overrides); lower holds less memory per viewer for more GC work; empty for GOGC or 100")
	memLimit := fs.String("memory-limit", "", "soft memory limit of the leaf process (as GOMEMLIMIT, e.g. 2GiB); keep it well above ~65 KiB × viewers or the GC runs flat out (docs/benchmarks.md, Fan-out); empty for none")
	pprofAddr := fs.String("pprof", "", "debug address serving /debug/pprof/ (heap, goroutine profiles); empty for none")
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	if err := checkPositive(fs, "max-connections"); err != nil {
		return err
	}
	if err := setLeafGC(*gcPercent, *memLimit); err != nil {
		return err
	}
	set := given(fs)
	if err := checkFreeGiven(*conf != "", set, []flagAddr{{"ws", *ws}, {"leafnodes", *leafs}, {"monitor", *monitor}}); err != nil {
		return err
	}
	cfg := fanout.LeafConfig{ConfigFile: *conf, Name: *name, Remotes: fanoutList(strings.Trim(*remote, "[] ")),
		WebSocketListen: *ws, LeafListen: *leafs, MonitorListen: *monitor, TLSCert: *cert, TLSKey: *key,
		RemoteTLS:      fanout.TLSConfig{CA: *remoteCA, Cert: *remoteCert, Key: *remoteKey},
		AllowedOrigins: fanoutList(*origins), MaxConnections: *maxConns}
	if *conf != "" {
		if cfg, err = leafFileConfig(cfg, set); err != nil {
			return err
		}
	}
	cfg.Logger = log
	l, err := fanout.NewLeaf(cfg)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		u, err := servePprof(ctx, log, *pprofAddr)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "leaf: profiles on %s/debug/pprof/\n", u)
	}
	if err := l.StartContext(ctx); err != nil {
		if *conf != "" {
			return fmt.Errorf("leaf -c %s: %w", *conf, err)
		}
		return err
	}
	fmt.Fprintf(env.stdout, "leaf: viewers connect to %s\n", l.WebSocketURL())
	if u := l.LeafRemote(); u != "" {
		fmt.Fprintf(env.stdout, "leaf: leaves of this leaf connect to %s\n", u)
	}
	if *conf == "" {
		fmt.Fprintf(env.stdout, "leaf: edges connect to %s --js-domain %s\n", l.EdgeUpstream(), fanout.HubDomain)
	}
	if u := l.MonitorURL(); u != "" {
		fmt.Fprintf(env.stdout, "leaf: monitoring on %s/varz\n", u)
	}
	return l.Run(ctx)
}

// leafFileConfig keeps, of the flags' cfg, the file and the flags given:
// those override the file's values. Credentials and TLS must come from the
// file.
func leafFileConfig(cfg fanout.LeafConfig, set map[string]bool) (fanout.LeafConfig, error) {
	for _, f := range []string{"tls-cert", "tls-key", "remote-ca", "remote-cert", "remote-key"} {
		if set[f] {
			return cfg, fmt.Errorf("leaf: --%s with -c: TLS comes from %s", f, cfg.ConfigFile)
		}
	}
	out := fanout.LeafConfig{ConfigFile: cfg.ConfigFile}
	if set["name"] {
		out.Name = cfg.Name
	}
	if set["remote"] {
		out.Remotes = cfg.Remotes
	}
	if set["ws"] {
		out.WebSocketListen = cfg.WebSocketListen
	}
	if set["leafnodes"] {
		out.LeafListen = cfg.LeafListen
	}
	if set["monitor"] {
		out.MonitorListen = cfg.MonitorListen
	}
	if set["allowed-origins"] {
		out.AllowedOrigins = cfg.AllowedOrigins
	}
	if set["max-connections"] {
		out.MaxConnections = cfg.MaxConnections
	}
	return out, nil
}

// defaultLeafGCPercent is the leaf's GC target. Half the runtime's default
// held 3-4 KiB less per WebSocket viewer at 10,000 viewers per leaf with no
// measurable delay cost (docs/benchmarks.md, Fan-out). Empty keeps GOGC.
const defaultLeafGCPercent = "50"

// setLeafGC applies --gc-percent and --memory-limit to this process.
func setLeafGC(percent, limit string) error {
	if percent != "" {
		p, err := strconv.Atoi(percent)
		if err != nil || p < 1 {
			return fmt.Errorf("--gc-percent: want a positive integer, got %q", percent)
		}
		debug.SetGCPercent(p)
	}
	if limit == "" {
		return nil
	}
	n, err := parseBytes(limit)
	if err != nil {
		return fmt.Errorf("--memory-limit: %w", err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// parseBytes reads 512MiB, 2GiB, 100MB or a plain byte count.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n <= 0 || n > math.MaxInt64/u.mult {
				return 0, fmt.Errorf("bad size %q (want a positive count below 8 EiB)", s)
			}
			return n * u.mult, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 1GiB)", s)
	}
	return n, nil
}

// fanoutList splits a comma-separated list, dropping empty items.
func fanoutList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
