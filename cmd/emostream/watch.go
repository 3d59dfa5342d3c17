package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/wire"
	"github.com/nats-io/nats.go"
)

const watchSynopsis = `Watches a match's swarms as a viewer does: connects to a leaf over NATS
WebSocket (or to any NATS URL), prints the latest swarm at once (late join,
marked "latest"), then one line per live swarm: window start, swarm units,
counts, total, and latency = now - window end.`

func init() {
	register(&command{name: "watch", summary: "print a match's live swarms, as a viewer receives them", run: runWatch})
}

func runWatch(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "watch", watchSynopsis)
	ws := fs.String("ws", "ws://"+fanout.DefaultWebSocketListen, "leaf WebSocket URL(s), comma-separated (fail over in order)")
	nf := addNATSFlags(fs, "", "NATS URL(s) to use instead of --ws (e.g. the hub, with --nats-user processor)")
	match := fs.String("match", "", "match id to watch (required)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if *match == "" {
		return errors.New("watch: --match is required")
	}
	o := nf.options(env)
	if o.URL == "" {
		o.URL = *ws // viewers are anonymous; --nats-ca still verifies a wss:// leaf
	}
	nc, err := o.Connect(nats.Name("emostream watch"), nats.DontRandomize(), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer nc.Close()
	fmt.Fprintf(env.stdout, "watching %s on %s\n", *match, nc.ConnectedUrl())
	return fanout.Watch(ctx, nc, *match, func(body []byte, latest bool) {
		printSwarm(env.stdout, body, latest, time.Now())
	})
}

// printSwarm prints one swarm as a line.
func printSwarm(w io.Writer, body []byte, latest bool, now time.Time) {
	s, err := wire.DecodeSwarm(body)
	if err != nil {
		fmt.Fprintf(w, "undecodable swarm: %v\n", err)
		return
	}
	tag := "live  "
	if latest {
		tag = "latest"
	}
	fmt.Fprintf(w, "%s %s units %s counts %s total %d latency %s\n", tag,
		s.WindowStart.Format("15:04:05.000"), emojiCounts(s.Swarm), emojiCounts(s.Counts), s.Total,
		now.Sub(s.WindowEnd).Round(time.Millisecond))
}

func emojiCounts(m map[string]int64) string {
	var b strings.Builder
	for _, e := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s%d ", e, m[e])
	}
	if b.Len() == 0 {
		return "-"
	}
	return strings.TrimSpace(b.String())
}
