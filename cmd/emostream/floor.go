//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"net"

	"github.com/emostream/emostream/bench"
)

func init() {
	register(&command{
		name:    "floor",
		summary: "minimal epoll WebSocket writer: the benchmark floor of the viewer edge",
		run:     runFloor,
	})
}

const floorSynopsis = `Serves viewers the least a server can: reads live swarms from one NATS
connection (--nats, as an edge does) and writes each one to every
WebSocket viewer from epoll loops with non-blocking write(2), nothing else
(no permissions, no requests, no pings). scripts/edge-bench.sh measures the
edge against it side by side (TARGETS="floor edge"). A viewer upgrades,
sends CONNECT, SUB of one literal emostream.live.<match> subject and PING,
and then only receives. Loopback only: it is a benchmark tool.`

// Defaults of emostream floor.
const (
	defaultFloorListen = "127.0.0.1:0"
	defaultFloorNATS   = "nats://" + defaultNATSAddr
)

// floorFlags are the flags of "emostream floor".
type floorFlags struct {
	cfg    bench.FloorConfig
	listen string
}

func addFloorFlags(fs *flag.FlagSet) *floorFlags {
	f := &floorFlags{}
	c := &f.cfg
	fs.StringVar(&f.listen, "listen", defaultFloorListen, "loopback address viewers connect to (WebSocket)")
	fs.StringVar(&c.NATSURL, "nats", defaultFloorNATS, "NATS URL the live swarms are read from: a leaf's client port with user edge and the password of its edge.password in the URL (nats://edge:PASSWORD@host:port), or the hub")
	fs.IntVar(&c.MaxConnections, "max-connections", bench.DefaultFloorMaxConnections, "most viewers at once (keep below the open-file limit)")
	fs.IntVar(&c.Loops, "loops", 0, "epoll loops; 0 means one per CPU (GOMAXPROCS)")
	return f
}

func runFloor(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "floor", floorSynopsis, args, addFloorFlags)
	if err != nil {
		return err
	}
	if err := checkPositive(fs, "max-connections"); err != nil {
		return err
	}
	if err := checkNotNegative(fs, "loops"); err != nil {
		return err
	}
	if h, _, err := net.SplitHostPort(f.listen); err != nil || !net.ParseIP(h).IsLoopback() {
		return fmt.Errorf("--listen %q: want a loopback host:port (the floor is a benchmark tool)", f.listen)
	}
	ln, err := listenFlag("listen", f.listen)
	if err != nil {
		return err
	}
	f.cfg.Listener, f.cfg.Logger = ln, log
	fl, err := bench.NewFloor(f.cfg)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(env.stdout, "floor: viewers connect to %s\n", fl.URL())
	return fl.Run(ctx)
}
