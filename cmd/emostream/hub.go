package main

import (
	"context"
	"fmt"

	"github.com/emostream/emostream/fanout"
)

const hubSynopsis = `Runs the hub, the main publisher: an embedded nats-server with JetStream
that the stages connect to and leaf clusters connect to as leafnodes.
With -c it loads a standard nats-server .conf (the repository's nats.conf:
the same file works with a stock nats-server); without it, it builds the same
configuration from the flags below, with a random leaf password that it prints.`

func init() {
	register(&command{name: "hub", summary: "run the hub nats-server (JetStream, leafnode listener)", run: runHub})
}

func runHub(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "hub", hubSynopsis)
	conf := fs.String("c", "", "nats-server .conf to load; the other flags are then ignored")
	dataDir := fs.String("data-dir", defaultDataDir, "directory for the JetStream store (<dir>/jetstream)")
	listen := fs.String("nats", fanout.DefaultClientListen, "client address the stages connect to")
	leafs := fs.String("leafnodes", fanout.DefaultHubLeafListen, "leafnode address leaf clusters connect to")
	monitor := fs.String("monitor", "127.0.0.1:8222", "monitoring address (/varz /connz /leafz /jsz); empty for none")
	leafPass := fs.String("leaf-password", "", "password of user \"leaf\" for leaf clusters; empty for a random one")
	parseLogged := logFlags(fs, env)
	log, err := parseLogged(args)
	if err != nil {
		return err
	}
	h, err := fanout.NewHub(fanout.HubConfig{ConfigFile: *conf, DataDir: *dataDir, ClientListen: *listen,
		LeafListen: *leafs, MonitorListen: *monitor, LeafPassword: *leafPass, Logger: log})
	if err != nil {
		return err
	}
	if err := h.Start(); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "hub: stages connect to %s\nhub: leaf clusters connect to %s\n", h.ClientURL(), h.LeafRemote())
	if u := h.MonitorURL(); u != "" {
		fmt.Fprintf(env.stdout, "hub: monitoring on %s/varz\n", u)
	}
	return h.Run(ctx)
}
