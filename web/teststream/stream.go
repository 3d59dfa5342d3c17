package teststream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/internal/setting"
)

// PlaylistPath is the live playlist a Stream serves; the segments are
// under /seg/.
const PlaylistPath = "/live.m3u8"

// ErrConfig is wrapped by every error of New about its Config.
var ErrConfig = errors.New("teststream: invalid configuration")

// Config of a Stream. Zero values are the documented defaults.
type Config struct {
	// Dir holds the loop Render wrote.
	Dir string
	// Behind is how far the live edge (the end of the newest segment
	// listed) runs behind the wall clock. Zero means at the wall clock,
	// at most 1 hour.
	Behind time.Duration
	// Window is how many segments the playlist lists, the stretch a
	// player can seek back in. Zero means 30, at most 600.
	Window int
	// Now is the wall clock. Nil means time.Now.
	Now func() time.Time
}

// Stream serves the loop as a live HLS stream: GET /live.m3u8 and
// /seg/<n>.ts, with Access-Control-Allow-Origin: * so a player page on
// any origin may read it. Its memory is the loop (about 3 MB); each
// request costs one playlist of at most Window lines or one segment.
type Stream struct {
	cfg  Config
	segs [Segments][]byte
	// origin is where the media and discontinuity sequence numbers count
	// from: a whole minute two hours before New (so Behind and Window keep them
	// positive). Players keep state per discontinuity (hls.js a sparse
	// array), so they stay small, as in a real stream.
	origin int64
}

// New reads the loop from cfg.Dir and checks cfg.
func New(cfg Config) (*Stream, error) {
	if cfg.Window == 0 {
		cfg.Window = 30
	}
	if err := setting.First(ErrConfig,
		setting.Between("Behind", cfg.Behind, 0, time.Hour),
		setting.Between("Window", cfg.Window, 1, 600)); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Stream{cfg: cfg, origin: (cfg.Now().Unix()/Segments - 2*Segments) * Segments}
	for i := range s.segs {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, strconv.Itoa(i)+".ts"))
		if err != nil {
			return nil, fmt.Errorf("teststream: the loop (Render): %w", err)
		}
		if len(b) == 0 || b[0] != 0x47 {
			return nil, fmt.Errorf("teststream: %d.ts is not MPEG-TS", i)
		}
		s.segs[i] = b
	}
	return s, nil
}

// Playlist is the live playlist at wall time now: the Window segments
// that ended by now less Behind, each with its EXT-X-PROGRAM-DATE-TIME
// (segment k is [k s, k+1 s) of program time), a discontinuity where the
// loop starts again. Sequence numbers count from s.origin.
func (s *Stream) Playlist(now time.Time) []byte {
	newest := now.Add(-s.cfg.Behind).Unix() - 1 // the last segment that ended
	first := newest - int64(s.cfg.Window) + 1
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-DISCONTINUITY-SEQUENCE:%d\n",
		first-s.origin, (first-s.origin)/Segments)
	for k := first; k <= newest; k++ {
		if k%Segments == 0 && k != first {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:1.000,\nseg/%d.ts\n",
			time.Unix(k, 0).UTC().Format("2006-01-02T15:04:05.000Z"), k%Segments)
	}
	return b.Bytes()
}

// ServeHTTP answers GET and HEAD of the playlist and the segments; any
// other path is 404, any other method 405.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "GET or HEAD only", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == PlaylistPath {
		h.Set("Content-Type", "application/vnd.apple.mpegurl")
		h.Set("Cache-Control", "no-store")
		w.Write(s.Playlist(s.cfg.Now()))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/seg/")
	n, err := strconv.Atoi(strings.TrimSuffix(name, ".ts"))
	if !ok || !strings.HasSuffix(name, ".ts") || err != nil || n < 0 || n >= Segments || strconv.Itoa(n)+".ts" != name {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", "video/mp2t")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Length", strconv.Itoa(len(s.segs[n])))
	w.Write(s.segs[n])
}

// Serve serves s on ln until ctx ends, then shuts down, waiting at most 5 s
// for the requests in flight. It is a development tool: ln must be on
// loopback.
func (s *Stream) Serve(ctx context.Context, ln net.Listener) error {
	if err := CheckLoopback(ln); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: recovery.HTTP(slog.Default(), "teststream", s), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("teststream: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("teststream: shutting down: %w", err)
	}
	return nil
}

// CheckLoopback refuses a listener off loopback: a Stream is for a
// developer's machine and tests.
func CheckLoopback(ln net.Listener) error {
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		return fmt.Errorf("teststream: listening on %s: want a loopback address", ln.Addr())
	}
	return nil
}
