package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/emostream/emostream/fanout"
)

const hubSynopsis = `Runs the hub, the main publisher: an embedded nats-server with JetStream
that the stages connect to and leaf clusters connect to as leafnodes.
With -c it loads a standard nats-server .conf (the repository's nats.conf:
the same file works with a stock nats-server); --nats, --leafnodes, --monitor
and --data-dir, when given, override the file's values (--data-dir its
store_dir), as nats-server's own flags do. A relative store_dir is relative to
the working directory, as with a stock nats-server. A hub cluster runs one
member per file: -c deploy/hub-1.conf, hub-2.conf, hub-3.conf (see
docs/operations.md, "High availability").
Without -c it builds the same configuration from the flags below; the leaf
password is kept in <data-dir>/leaf.password (created once, mode 0600), so
leaves reconnect after a restart.`

func init() {
	register(&command{name: "hub", summary: "run the hub nats-server (JetStream, leafnode listener)", run: runHub})
}

// leafPasswordFile holds the flag form's leaf password in --data-dir.
const leafPasswordFile = "leaf.password"

// hubFlags are the flags of "emostream hub".
type hubFlags struct {
	conf, dataDir, listen, leafs, monitor, leafPass string
	auth                                            *hubAuthFlags
}

func addHubFlags(fs *flag.FlagSet) *hubFlags {
	f := &hubFlags{}
	fs.StringVar(&f.conf, "c", "", "nats-server .conf to load; --nats, --leafnodes, --monitor and --data-dir override its values when given")
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir, "directory for the JetStream store (<dir>/jetstream, locked while the hub runs: <dir>/jetstream.lock) and the leaf password (<dir>/"+leafPasswordFile+")")
	fs.StringVar(&f.listen, "nats", fanout.DefaultClientListen, "client address the stages connect to")
	fs.StringVar(&f.leafs, "leafnodes", fanout.DefaultHubLeafListen, "leafnode address leaf clusters connect to")
	fs.StringVar(&f.monitor, "monitor", defaultMonitorAddr, "monitoring address (/varz /connz /leafz /jsz); empty for none")
	fs.StringVar(&f.leafPass, "leaf-password", "", "password of user \"leaf\" for leaf clusters; empty: the one in <data-dir>/"+leafPasswordFile+", created once at random")
	f.auth = addHubAuthFlags(fs)
	return f
}

// config checks that the flags' addresses are free and returns the hub
// they describe, logging to log: the -c file with the flags given
// overriding it, or the flags alone.
func (f *hubFlags) config(fs *flag.FlagSet, log *slog.Logger) (cfg fanout.HubConfig, err error) {
	set := given(fs)
	if err := checkFreeGiven(f.conf != "", set, []flagAddr{{"nats", f.listen}, {"leafnodes", f.leafs}, {"monitor", f.monitor}}); err != nil {
		return fanout.HubConfig{}, err
	}
	if f.conf != "" {
		cfg, err = hubFileConfig(f.conf, set, f.dataDir, f.listen, f.leafs, f.monitor)
	} else {
		cfg, err = f.flagConfig()
	}
	cfg.Logger = log
	return cfg, err
}

// flagConfig is the hub of the flags without -c, whose passwords and leaf
// password it reads or creates.
func (f *hubFlags) flagConfig() (fanout.HubConfig, error) {
	cfg := fanout.HubConfig{DataDir: f.dataDir, ClientListen: f.listen, LeafListen: f.leafs, MonitorListen: f.monitor,
		LeafPassword: f.leafPass, ClientTLS: f.auth.tls(), LeafTLS: f.auth.tls()}
	var err error
	if cfg.Passwords, err = stagePasswords("hub", f.auth.authDir, f.listen); err != nil {
		return cfg, err
	}
	if cfg.LeafPassword == "" {
		cfg.LeafPassword, err = leafPassword(f.dataDir)
	}
	return cfg, err
}

// leafPassword is the leaf password kept in dataDir, created once at
// random (mode 0600) so that leaves reconnect after a restart.
func leafPassword(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	p, err := readOrCreateSecret(filepath.Join(dataDir, leafPasswordFile))
	if err != nil {
		return "", fmt.Errorf("hub: leaf password: %w", err)
	}
	return p, nil
}

func runHub(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "hub", hubSynopsis, args, addHubFlags)
	if err != nil {
		return err
	}
	cfg, err := f.config(fs, log)
	if err != nil {
		return err
	}
	h, err := fanout.NewHub(cfg)
	if err != nil {
		return err
	}
	if err := startServer(ctx, h, "hub", f.conf); err != nil {
		return err
	}
	f.printStarted(env, h, cfg)
	return h.Run(ctx)
}

// printStarted says where the started hub h serves.
func (f *hubFlags) printStarted(env *environment, h *fanout.Hub, cfg fanout.HubConfig) {
	fmt.Fprintf(env.stdout, "hub: stages connect to %s\nhub: leaf clusters connect to %s\n", h.ClientURL(), h.LeafRemote())
	if cfg.Passwords != nil {
		fmt.Fprintf(env.stdout, "hub: stage users %v; passwords in %s/<user>.password\n", fanout.StageUsers, f.auth.authDir)
	} else if f.conf == "" {
		fmt.Fprintln(env.stdout, "hub: no stage credentials (loopback only): every client has every permission")
	}
	if u := h.MonitorURL(); u != "" {
		fmt.Fprintf(env.stdout, "hub: monitoring on %s/varz\n", u)
	}
}

// hubFileConfig is the hub of -c file with the given flags overriding it;
// credentials and TLS must come from the file.
func hubFileConfig(file string, set map[string]bool, dataDir, listen, leafs, monitor string) (fanout.HubConfig, error) {
	for _, f := range []string{"leaf-password", "nats-auth-dir", "tls-cert", "tls-key", "tls-ca", "tls-verify"} {
		if set[f] {
			return fanout.HubConfig{}, fmt.Errorf("hub: --%s with -c: credentials and TLS come from %s", f, file)
		}
	}
	if set["monitor"] && monitor == "" {
		return fanout.HubConfig{}, fmt.Errorf("hub: --monitor \"\" with -c: remove http from %s to turn monitoring off", file)
	}
	cfg := fanout.HubConfig{ConfigFile: file}
	override(set, "data-dir", &cfg.DataDir, dataDir)
	override(set, "nats", &cfg.ClientListen, listen)
	override(set, "leafnodes", &cfg.LeafListen, leafs)
	override(set, "monitor", &cfg.MonitorListen, monitor)
	return cfg, nil
}
