package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/emostream/emostream/web/teststream"
)

func init() {
	register(&command{
		name:    "teststream",
		summary: "serve a live HLS test stream with program time for the player page (needs ffmpeg)",
		run:     runTestStream,
	})
}

const testStreamSynopsis = `Renders a one-minute test pattern with ffmpeg (the program time's seconds
burned in) and serves it on loopback as a live HLS stream, /live.m3u8,
whose EXT-X-PROGRAM-DATE-TIME runs --behind the wall clock at the live
edge (hls.js plays 3 s further back). "emostream up" has no video of its
own: run it with --video-origins http://<--listen>, then open
/player.html?video=http://<--listen>/live.m3u8 on it. Serves until
interrupted.`

// Defaults of emostream teststream.
const (
	defaultTestStreamListen = "127.0.0.1:8090"
	defaultTestStreamBehind = 17 * time.Second // a player 20 s behind live
	defaultTestStreamWindow = 30
)

// testStreamFlags are the flags of "emostream teststream".
type testStreamFlags struct {
	listen string
	cfg    teststream.Config
}

func addTestStreamFlags(fs *flag.FlagSet) *testStreamFlags {
	f := &testStreamFlags{}
	fs.StringVar(&f.listen, "listen", defaultTestStreamListen, "address to serve the stream on (loopback)")
	fs.DurationVar(&f.cfg.Behind, "behind", defaultTestStreamBehind, "how far the live edge's program time runs behind the wall clock, at most 1h")
	fs.IntVar(&f.cfg.Window, "window", defaultTestStreamWindow, "segments (seconds) the playlist lists: how far a player can seek back, 1 to 600")
	return f
}

func runTestStream(ctx context.Context, env *environment, args []string) error {
	_, f, log, err := parseLogged(env, "teststream", testStreamSynopsis, args, addTestStreamFlags)
	if err != nil {
		return err
	}
	ln, err := listenFlag("listen", f.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := teststream.CheckLoopback(ln); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if f.cfg.Dir, err = os.MkdirTemp("", "emostream-teststream-"); err != nil {
		return err
	}
	defer os.RemoveAll(f.cfg.Dir)
	if err := teststream.Render(ctx, f.cfg.Dir); err != nil {
		return err
	}
	s, err := teststream.New(f.cfg)
	if err != nil {
		return fmt.Errorf("--behind or --window: %w", err)
	}
	fmt.Fprintf(env.stdout, "teststream: http://%s%s, %v behind live at its edge\n", ln.Addr(), teststream.PlaylistPath, f.cfg.Behind)
	fmt.Fprintf(env.stdout, "  emostream up --video-origins http://%s\n  http://127.0.0.1:8080/player.html?video=http://%s%s\n",
		ln.Addr(), ln.Addr(), teststream.PlaylistPath)
	if err := s.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("teststream stopped", "component", "teststream")
	return nil
}
