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
connection (--nats, and on a leaf --nats-user edge and --nats-password-file:
the edge's flags, so it connects as an edge does) and writes each one to every
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
	nats   *natsFlags
}

func addFloorFlags(fs *flag.FlagSet) *floorFlags {
	f := &floorFlags{}
	c := &f.cfg
	fs.StringVar(&f.listen, "listen", defaultFloorListen, "loopback address viewers connect to (WebSocket)")
	f.nats = addNATSFlags(fs, defaultFloorNATS, "NATS URL(s) the live swarms are read from: a leaf's client port (user edge, as an edge), or the hub")
	fs.IntVar(&c.MaxConnections, "max-connections", bench.DefaultFloorMaxConnections, "most viewers at once (keep below the open-file limit)")
	fs.IntVar(&c.Loops, "loops", 0, "epoll loops; 0 means one per CPU (GOMAXPROCS)")
	return f
}

// config checks the flags and turns them into a bench.FloorConfig, short
// of its listener and logger.
func (f *floorFlags) config(fs *flag.FlagSet, env *environment) (bench.FloorConfig, error) {
	c := f.cfg
	if err := checkPositive(fs, "max-connections"); err != nil {
		return c, err
	}
	if err := checkNotNegative(fs, "loops"); err != nil {
		return c, err
	}
	if h, _, err := net.SplitHostPort(f.listen); err != nil || !net.ParseIP(h).IsLoopback() {
		return c, fmt.Errorf("--listen %q: want a loopback host:port (the floor is a benchmark tool)", f.listen)
	}
	var err error
	c.NATSURL = f.nats.o.URL
	c.NATSOptions, err = f.nats.natsOptions(env)
	return c, err
}

func runFloor(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "floor", floorSynopsis, args, addFloorFlags)
	if err != nil {
		return err
	}
	cfg, err := f.config(fs, env)
	if err != nil {
		return err
	}
	ln, err := listenFlag("listen", f.listen)
	if err != nil {
		return err
	}
	cfg.Listener, cfg.Logger = ln, log
	fl, err := bench.NewFloor(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(env.stdout, "floor: viewers connect to %s\n", fl.URL())
	return fl.Run(ctx)
}
