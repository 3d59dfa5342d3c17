package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

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
leaves reconnect after a restart.
A hub that fails after it started (a fatal server error, JetStream turned off
because its store cannot be written, a shutdown of its own) answers /readyz
503 and exits non-zero with the error.`

func init() {
	register(&command{name: "hub", summary: "run the hub nats-server (JetStream, leafnode listener)", run: runHub})
}

// leafPasswordFile holds the flag form's leaf password in --data-dir.
const leafPasswordFile = "leaf.password"

// hubFlags are the flags of "emostream hub": all but the credentials and
// TLS bind to the fields of cfg they set (ConfigFile is -c).
type hubFlags struct {
	cfg  fanout.HubConfig
	auth *hubAuthFlags
	ops  *opsFlags
}

func addHubFlags(fs *flag.FlagSet) *hubFlags {
	f := &hubFlags{}
	c := &f.cfg
	fs.StringVar(&c.ConfigFile, "c", "", "nats-server .conf to load; --nats, --leafnodes, --monitor and --data-dir override its values when given")
	fs.StringVar(&c.DataDir, "data-dir", defaultDataDir, "directory for the JetStream store (<dir>/jetstream, locked while the hub runs: <dir>/jetstream.lock) and the leaf password (<dir>/"+leafPasswordFile+")")
	fs.StringVar(&c.ClientListen, "nats", fanout.DefaultClientListen, "client address the stages connect to")
	fs.StringVar(&c.LeafListen, "leafnodes", fanout.DefaultHubLeafListen, "leafnode address leaf clusters connect to")
	fs.StringVar(&c.MonitorListen, "monitor", defaultMonitorAddr, "monitoring address (/varz /connz /leafz /jsz); empty for none")
	fs.StringVar(&c.LeafPassword, "leaf-password", "", "password of user \"leaf\" for leaf clusters; empty: the one in <data-dir>/"+leafPasswordFile+", created once at random")
	f.auth = addHubAuthFlags(fs)
	f.ops = addNewOpsFlags(fs, "", serverOpsUsage)
	return f
}

// config checks that the flags' addresses are free and returns the hub
// they describe, logging to log: the -c file with the flags given
// overriding it, or the flags alone.
func (f *hubFlags) config(fs *flag.FlagSet, log *slog.Logger) (cfg fanout.HubConfig, err error) {
	c, set := f.cfg, given(fs)
	if err := checkFreeGiven(c.ConfigFile != "", set, []flagAddr{{"nats", c.ClientListen}, {"leafnodes", c.LeafListen}, {"monitor", c.MonitorListen}}); err != nil {
		return fanout.HubConfig{}, err
	}
	if c.ConfigFile != "" {
		cfg, err = hubFileConfig(c, set)
	} else {
		cfg, err = f.flagConfig()
	}
	cfg.Logger = log
	return cfg, err
}

// settings names the flags that set fanout.HubConfig's fields, for its
// errors (flagError).
func (f *hubFlags) settings(fs *flag.FlagSet) settingFlags {
	extra := map[string]string{"Passwords": "nats-auth-dir", "StageUser": "nats-auth-dir"}
	for _, tls := range []string{"ClientTLS", "LeafTLS"} {
		extra[tls+".Cert"], extra[tls+".Key"], extra[tls+".CA"], extra[tls+".Verify"] = "tls-cert", "tls-key", "tls-ca", "tls-verify"
	}
	return settingFlags{fanout.ErrConfig, boundFlags(fs, &f.cfg, extra)}
}

// flagConfig is the hub of the flags without -c, whose passwords and leaf
// password it reads or creates.
func (f *hubFlags) flagConfig() (fanout.HubConfig, error) {
	cfg := f.cfg
	cfg.ClientTLS, cfg.LeafTLS = f.auth.tls(), f.auth.tls()
	var err error
	if cfg.Passwords, err = stagePasswords("hub", f.auth.authDir, cfg.ClientListen); err != nil {
		return cfg, err
	}
	if cfg.LeafPassword == "" {
		cfg.LeafPassword, err = leafPassword(cfg.DataDir)
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
		return flagError(err, f.settings(fs))
	}
	ops, err := f.ops.listen(log, fs)
	if err != nil {
		return err
	}
	if err := startServer(ctx, h, "hub", cfg.ConfigFile); err != nil {
		ops.close()
		return err
	}
	f.printStarted(env, h, cfg)
	ops.announce(env.stdout, "hub")
	return ops.runBeside(ctx, "hub_metrics", stageRegistry(), h.Ready, h.Run)
}

// printStarted says where the started hub h serves, and where the leaf
// password is, never the password itself: output is logged and shared.
func (f *hubFlags) printStarted(env *environment, h *fanout.Hub, cfg fanout.HubConfig) {
	fmt.Fprintf(env.stdout, "hub: stages connect to %s\nhub: leaf clusters connect to %s%s\n", h.ClientURL(), h.LeafURL(), f.leafCredentials(cfg, h.LeafURL()))
	if cfg.Passwords != nil {
		fmt.Fprintf(env.stdout, "hub: stage users %v; passwords in %s/<user>.password\n", fanout.StageUsers, f.auth.authDir)
	} else if cfg.ConfigFile == "" {
		fmt.Fprintln(env.stdout, "hub: no stage credentials (loopback only): every client has every permission")
	}
	if u := h.MonitorURL(); u != "" {
		fmt.Fprintf(env.stdout, "hub: monitoring on %s/varz\n", u)
	}
}

// leafCredentials says, after the leafnode URL u, who a leaf is and
// where its password is: the -c file's users, --leaf-password, or the file
// in --data-dir, with the EMOSTREAM_LEAF_REMOTE that emostream leaf reads.
func (f *hubFlags) leafCredentials(cfg fanout.HubConfig, u string) string {
	user := cmp.Or(cfg.LeafUser, fanout.DefaultLeafUser)
	switch {
	case cfg.ConfigFile != "":
		return " as a leaf user of " + cfg.ConfigFile
	case f.cfg.LeafPassword != "":
		return " as user " + user + ", the password given with --leaf-password"
	}
	file, hostPort := filepath.Join(cfg.DataDir, leafPasswordFile), strings.TrimPrefix(u, "nats-leaf://")
	return fmt.Sprintf(" as user %s, the password in %s: EMOSTREAM_LEAF_REMOTE=nats-leaf://%s:$(cat %s)@%s emostream leaf …",
		user, file, user, file, hostPort)
}

// hubFileConfig keeps, of the flags' cfg, the -c file and the flags given:
// those override the file's values. Credentials and TLS must come from the
// file.
func hubFileConfig(cfg fanout.HubConfig, set map[string]bool) (fanout.HubConfig, error) {
	for _, f := range []string{"leaf-password", "nats-auth-dir", "tls-cert", "tls-key", "tls-ca", "tls-verify"} {
		if set[f] {
			return fanout.HubConfig{}, fmt.Errorf("hub: --%s with -c: credentials and TLS come from %s", f, cfg.ConfigFile)
		}
	}
	if set["monitor"] && cfg.MonitorListen == "" {
		return fanout.HubConfig{}, fmt.Errorf("hub: --monitor \"\" with -c: remove http from %s to turn monitoring off", cfg.ConfigFile)
	}
	out := fanout.HubConfig{ConfigFile: cfg.ConfigFile}
	override(set, "data-dir", &out.DataDir, cfg.DataDir)
	override(set, "nats", &out.ClientListen, cfg.ClientListen)
	override(set, "leafnodes", &out.LeafListen, cfg.LeafListen)
	override(set, "monitor", &out.MonitorListen, cfg.MonitorListen)
	return out, nil
}
