package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
own flags do. Without -c it builds the same configuration from the flags below;
the passwords of its edges and of leaves of this leaf are kept in
--nats-auth-dir (edge.password, leaf.password; created once, mode 0600), and
it prints where they are, never the passwords.
A file that enables JetStream locks its store_dir (<store_dir>/jetstream.lock):
a second leaf of the same store exits at once. A leaf that fails after it
started (a fatal server error, its JetStream, if any, turned off, a shutdown
of its own) answers /readyz 503 and exits non-zero with the error.`

func init() {
	register(&command{name: "leaf", summary: "run a leaf cluster nats-server (WebSocket viewers)", run: runLeaf})
}

// leafFlags are the flags of "emostream leaf": most bind to the fields of
// cfg they set (ConfigFile is -c).
type leafFlags struct {
	cfg                        fanout.LeafConfig
	remote, origins, authDir   string
	gcPercent, memLimit, pprof string
	ops                        *opsFlags
}

func addLeafFlags(fs *flag.FlagSet) *leafFlags {
	f := &leafFlags{}
	c := &f.cfg
	fs.StringVar(&c.ConfigFile, "c", "", "nats-server .conf to load; the flags named above override its values when given")
	fs.StringVar(&c.Name, "name", fanout.DefaultLeafName, "server name")
	fs.StringVar(&f.remote, "remote", "", "hub leafnode URL(s) with credentials, comma-separated: nats-leaf://leaf:PASSWORD@host:port (emostream hub prints the URL and where the password is); better in this variable than on the command line, which ps shows; also in the form deploy/leaf-*.conf read from the same variable, [url1, url2] (every member of a hub cluster)")
	fs.StringVar(&c.WebSocketListen, "ws", fanout.DefaultWebSocketListen, "WebSocket address viewers connect to")
	fs.StringVar(&c.LeafListen, "leafnodes", "", "leafnode address for leaves of this leaf; empty for none")
	fs.StringVar(&c.MonitorListen, "monitor", "", "monitoring address (/varz /connz /subsz /leafz); empty for none")
	fs.StringVar(&f.authDir, "nats-auth-dir", "", "directory of this leaf's passwords: "+edgePasswordFile+" (user edge, on the client port) and "+leafPasswordFile+" (leaves of this leaf, with --leafnodes); missing ones are created, random, mode 0600. Empty: "+defaultDataDir+"/leaf-<name>")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate: serve wss:// (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.RemoteTLS.CA, "remote-ca", "", "PEM CA that verifies the hub's (or parent leaf's) leafnode certificate: TLS to the remote")
	fs.StringVar(&c.RemoteTLS.Cert, "remote-cert", "", "PEM client certificate for the remote, when it verifies leaves (with --remote-key)")
	fs.StringVar(&c.RemoteTLS.Key, "remote-key", "", "PEM private key of --remote-cert")
	fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated browser origins allowed to connect; empty for any")
	fs.IntVar(&c.MaxConnections, "max-connections", fanout.DefaultLeafMaxConnections, "most viewers (and leaves) at once; keep below the open-file limit")
	fs.StringVar(&f.gcPercent, "gc-percent", defaultLeafGCPercent, "Go GC target percent of the leaf process (as GOGC, which it overrides); lower holds less memory per viewer for more GC work; empty for GOGC or 100")
	fs.StringVar(&f.memLimit, "memory-limit", "", "soft memory limit of the leaf process (as GOMEMLIMIT, e.g. 2GiB); keep it well above ~65 KiB × viewers or the GC runs flat out (docs/benchmarks.md, Fan-out); empty for none")
	fs.StringVar(&f.pprof, "pprof", "", "debug address serving /debug/pprof/ (heap, goroutine profiles); empty for none")
	f.ops = addNewOpsFlags(fs, "", serverOpsUsage)
	return f
}

// config checks the flags, applies the GC flags to this process, checks
// that the addresses given are free and returns the leaf they describe,
// logging to log: with -c, the file and the flags given that override it.
func (f *leafFlags) config(fs *flag.FlagSet, log *slog.Logger) (fanout.LeafConfig, error) {
	c, set := f.cfg, given(fs)
	if err := checkPositive(fs, "max-connections"); err != nil {
		return c, err
	}
	if err := setLeafGC(f.gcPercent, f.memLimit); err != nil {
		return c, err
	}
	if err := checkFreeGiven(c.ConfigFile != "", set, []flagAddr{{"ws", c.WebSocketListen}, {"leafnodes", c.LeafListen}, {"monitor", c.MonitorListen}}); err != nil {
		return c, err
	}
	c.Remotes, c.AllowedOrigins = splitList(strings.Trim(f.remote, "[] ")), splitList(f.origins)
	var err error
	if c.ConfigFile != "" {
		c, err = leafFileConfig(c, set)
	} else {
		err = f.passwords(&c)
	}
	c.Logger = log
	return c, err
}

// edgePasswordFile holds the password of user edge in the leaf's
// --nats-auth-dir (its leaf password is in leafPasswordFile).
const edgePasswordFile = fanout.UserEdge + ".password"

// dir is the leaf's --nats-auth-dir, or the default for its --name.
func (f *leafFlags) dir(name string) string {
	return cmp.Or(f.authDir, filepath.Join(defaultDataDir, "leaf-"+cmp.Or(name, fanout.DefaultLeafName)))
}

// passwords reads or creates the edge password and, with --leafnodes,
// the leaf password of c in the leaf's auth directory, so that they stay
// the same across restarts and are never printed.
func (f *leafFlags) passwords(c *fanout.LeafConfig) error {
	dir := f.dir(c.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("leaf: --nats-auth-dir: %w", err)
	}
	var err error
	if c.EdgePassword, err = readOrCreateSecret(filepath.Join(dir, edgePasswordFile)); err != nil {
		return fmt.Errorf("leaf: --nats-auth-dir: %w", err)
	}
	if c.LeafListen != "" {
		if c.LeafPassword, err = readOrCreateSecret(filepath.Join(dir, leafPasswordFile)); err != nil {
			return fmt.Errorf("leaf: --nats-auth-dir: %w", err)
		}
	}
	return nil
}

func runLeaf(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "leaf", leafSynopsis, args, addLeafFlags)
	if err != nil {
		return err
	}
	cfg, err := f.config(fs, log)
	if err != nil {
		return err
	}
	l, err := fanout.NewLeaf(cfg)
	if err != nil {
		return flagError(err, settingFlags{fanout.ErrConfig, boundFlags(fs, &f.cfg,
			map[string]string{"Remotes": "remote", "AllowedOrigins": "allowed-origins"})})
	}
	if f.pprof != "" {
		u, err := servePprof(ctx, log, f.pprof)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "leaf: profiles on %s/debug/pprof/\n", u)
	}
	ops, err := f.ops.listen(log, fs)
	if err != nil {
		return err
	}
	if err := startServer(ctx, l, "leaf", cfg.ConfigFile); err != nil {
		ops.close()
		return err
	}
	f.printStarted(env, l, cfg)
	ops.announce(env.stdout, "leaf")
	return ops.runBeside(ctx, "leaf_metrics", stageRegistry(), l.Ready, l.Run)
}

// printStarted says where the started leaf l serves, and where the
// passwords of its edges and leaves are, never the passwords themselves:
// output is logged and shared.
func (f *leafFlags) printStarted(env *environment, l *fanout.Leaf, cfg fanout.LeafConfig) {
	fmt.Fprintf(env.stdout, "leaf: viewers connect to %s\n", l.WebSocketURL())
	dir := f.dir(cfg.Name)
	if u := l.LeafURL(); u != "" && cfg.ConfigFile == "" {
		file, hostPort := filepath.Join(dir, leafPasswordFile), strings.TrimPrefix(u, "nats-leaf://")
		fmt.Fprintf(env.stdout, "leaf: leaves of this leaf connect to %s as user %s, the password in %s: EMOSTREAM_LEAF_REMOTE=nats-leaf://%s:$(cat %s)@%s emostream leaf …\n",
			u, fanout.DefaultLeafUser, file, fanout.DefaultLeafUser, file, hostPort)
	} else if u != "" {
		fmt.Fprintf(env.stdout, "leaf: leaves of this leaf connect to %s as a leaf user of %s\n", u, cfg.ConfigFile)
	}
	if cfg.ConfigFile == "" {
		u, file := l.ClientURL(), filepath.Join(dir, edgePasswordFile)
		fmt.Fprintf(env.stdout, "leaf: edges connect to %s as user %s, the password in %s: emostream edge --nats %s --nats-user %s --nats-password-file %s --js-domain %s\n",
			u, fanout.UserEdge, file, u, fanout.UserEdge, file, fanout.HubDomain)
	}
	if u := l.MonitorURL(); u != "" {
		fmt.Fprintf(env.stdout, "leaf: monitoring on %s/varz\n", u)
	}
}

// leafFileConfig keeps, of the flags' cfg, the file and the flags given:
// those override the file's values. Credentials and TLS must come from the
// file.
func leafFileConfig(cfg fanout.LeafConfig, set map[string]bool) (fanout.LeafConfig, error) {
	for _, f := range []string{"nats-auth-dir", "tls-cert", "tls-key", "remote-ca", "remote-cert", "remote-key"} {
		if set[f] {
			return cfg, fmt.Errorf("leaf: --%s with -c: credentials and TLS come from %s", f, cfg.ConfigFile)
		}
	}
	out := fanout.LeafConfig{ConfigFile: cfg.ConfigFile}
	override(set, "name", &out.Name, cfg.Name)
	override(set, "remote", &out.Remotes, cfg.Remotes)
	override(set, "ws", &out.WebSocketListen, cfg.WebSocketListen)
	override(set, "leafnodes", &out.LeafListen, cfg.LeafListen)
	override(set, "monitor", &out.MonitorListen, cfg.MonitorListen)
	override(set, "allowed-origins", &out.AllowedOrigins, cfg.AllowedOrigins)
	override(set, "max-connections", &out.MaxConnections, cfg.MaxConnections)
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
