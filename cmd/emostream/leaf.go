package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/emostream/emostream/fanout"
)

const leafSynopsis = `Runs a leaf cluster node, a cluster publisher: an embedded nats-server that
connects to the hub (or to another leaf) as a leafnode and serves viewers over
NATS WebSocket. Viewers are anonymous and may only subscribe to
emostream.live.> and read the latest swarm of a match.
With -c it loads a standard nats-server .conf (see deploy/leaf-a.conf);
without it, it builds the same configuration from the flags below.`

func init() {
	register(&command{name: "leaf", summary: "run a leaf cluster nats-server (WebSocket viewers)", run: runLeaf})
}

func runLeaf(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "leaf", leafSynopsis)
	conf := fs.String("c", "", "nats-server .conf to load; the other flags are then ignored")
	name := fs.String("name", fanout.DefaultLeafName, "server name")
	remote := fs.String("remote", "", "hub leafnode URL(s) with credentials, comma-separated (as printed by emostream hub)")
	ws := fs.String("ws", fanout.DefaultWebSocketListen, "WebSocket address viewers connect to")
	leafs := fs.String("leafnodes", "", "leafnode address for leaves of this leaf; empty for none")
	monitor := fs.String("monitor", "", "monitoring address (/varz /connz /subsz /leafz); empty for none")
	cert := fs.String("tls-cert", "", "PEM certificate: serve wss:// (with --tls-key)")
	key := fs.String("tls-key", "", "PEM private key of --tls-cert")
	origins := fs.String("allowed-origins", "", "comma-separated browser origins allowed to connect; empty for any")
	newLogger := logFlags(fs, env)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	log, err := newLogger()
	if err != nil {
		return err
	}
	l, err := fanout.NewLeaf(fanout.LeafConfig{ConfigFile: *conf, Name: *name, Remotes: fanoutList(*remote),
		WebSocketListen: *ws, LeafListen: *leafs, MonitorListen: *monitor, TLSCert: *cert, TLSKey: *key,
		AllowedOrigins: fanoutList(*origins), Logger: log})
	if err != nil {
		return err
	}
	if err := l.Start(); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "leaf: viewers connect to %s\n", l.WebSocketURL())
	if u := l.LeafRemote(); u != "" {
		fmt.Fprintf(env.stdout, "leaf: leaves of this leaf connect to %s\n", u)
	}
	if u := l.MonitorURL(); u != "" {
		fmt.Fprintf(env.stdout, "leaf: monitoring on %s/varz\n", u)
	}
	return l.Run(ctx)
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
