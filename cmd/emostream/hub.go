package main

import (
	"context"
	"fmt"
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

func runHub(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "hub", hubSynopsis)
	conf := fs.String("c", "", "nats-server .conf to load; --nats, --leafnodes, --monitor and --data-dir override its values when given")
	dataDir := fs.String("data-dir", defaultDataDir, "directory for the JetStream store (<dir>/jetstream, locked while the hub runs: <dir>/jetstream.lock) and the leaf password (<dir>/"+leafPasswordFile+")")
	listen := fs.String("nats", fanout.DefaultClientListen, "client address the stages connect to")
	leafs := fs.String("leafnodes", fanout.DefaultHubLeafListen, "leafnode address leaf clusters connect to")
	monitor := fs.String("monitor", "127.0.0.1:8222", "monitoring address (/varz /connz /leafz /jsz); empty for none")
	leafPass := fs.String("leaf-password", "", "password of user \"leaf\" for leaf clusters; empty: the one in <data-dir>/"+leafPasswordFile+", created once at random")
	auth := addHubAuthFlags(fs)
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	set := given(fs)
	if err := checkFreeGiven(*conf != "", set, []flagAddr{{"nats", *listen}, {"leafnodes", *leafs}, {"monitor", *monitor}}); err != nil {
		return err
	}
	var cfg fanout.HubConfig
	if *conf != "" {
		if cfg, err = hubFileConfig(*conf, set, *dataDir, *listen, *leafs, *monitor); err != nil {
			return err
		}
	} else {
		cfg = fanout.HubConfig{DataDir: *dataDir, ClientListen: *listen, LeafListen: *leafs, MonitorListen: *monitor,
			LeafPassword: *leafPass, ClientTLS: auth.tls(), LeafTLS: auth.tls()}
		if cfg.Passwords, err = auth.passwords("hub", *listen); err != nil {
			return err
		}
		if cfg.LeafPassword == "" {
			if err := os.MkdirAll(*dataDir, 0o755); err != nil {
				return fmt.Errorf("hub: %w", err)
			}
			if cfg.LeafPassword, err = readOrCreateSecret(filepath.Join(*dataDir, leafPasswordFile)); err != nil {
				return fmt.Errorf("hub: leaf password: %w", err)
			}
		}
	}
	cfg.Logger = log
	h, err := fanout.NewHub(cfg)
	if err != nil {
		return err
	}
	if err := h.StartContext(ctx); err != nil {
		if *conf != "" {
			return fmt.Errorf("hub -c %s: %w", *conf, err)
		}
		return err
	}
	fmt.Fprintf(env.stdout, "hub: stages connect to %s\nhub: leaf clusters connect to %s\n", h.ClientURL(), h.LeafRemote())
	if cfg.Passwords != nil {
		fmt.Fprintf(env.stdout, "hub: stage users %v; passwords in %s/<user>.password\n", fanout.StageUsers, auth.authDir)
	} else if *conf == "" {
		fmt.Fprintln(env.stdout, "hub: no stage credentials (loopback only): every client has every permission")
	}
	if u := h.MonitorURL(); u != "" {
		fmt.Fprintf(env.stdout, "hub: monitoring on %s/varz\n", u)
	}
	return h.Run(ctx)
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
	pick := func(dst *string, flag, v string) {
		if set[flag] {
			*dst = v
		}
	}
	pick(&cfg.DataDir, "data-dir", dataDir)
	pick(&cfg.ClientListen, "nats", listen)
	pick(&cfg.LeafListen, "leafnodes", leafs)
	pick(&cfg.MonitorListen, "monitor", monitor)
	return cfg, nil
}
