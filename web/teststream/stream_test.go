package teststream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// fakeLoop writes Segments small MPEG-TS-looking files into a temp dir.
func fakeLoop(t testing.TB) string {
	dir := t.TempDir()
	for i := range Segments {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.ts", i)), []byte{0x47, byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPlaylist(t *testing.T) {
	midnight := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // a whole minute: its second is a loop's start
	m := midnight.Unix()
	for _, tc := range []struct {
		name          string
		now           time.Time
		behind        time.Duration
		window        int
		first, newest int64
		discontinuity int64 // the segment after EXT-X-DISCONTINUITY, 0 for none
	}{
		{"at the wall clock", midnight.Add(30500 * time.Millisecond), 0, 5, m + 25, m + 29, 0},
		{"10 s behind", midnight.Add(30500 * time.Millisecond), 10 * time.Second, 5, m + 15, m + 19, 0},
		{"the loop starts again", midnight.Add(62500 * time.Millisecond), 0, 5, m + 57, m + 61, m + 60},
		{"the loop starts with the window", midnight.Add(65500 * time.Millisecond), 0, 5, m + 60, m + 64, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Stream{cfg: Config{Behind: tc.behind, Window: tc.window}, origin: m - 3600}
			got := string(s.Playlist(tc.now))
			want := fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-DISCONTINUITY-SEQUENCE:%d\n",
				tc.first-m+3600, (tc.first-m+3600)/60)
			for k := tc.first; k <= tc.newest; k++ {
				if k == tc.discontinuity {
					want += "#EXT-X-DISCONTINUITY\n"
				}
				want += fmt.Sprintf("#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:1.000,\nseg/%d.ts\n", time.Unix(k, 0).UTC().Format("2006-01-02T15:04:05.000Z"), k%60)
			}
			if got != want {
				t.Errorf("playlist:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	dir := fakeLoop(t)
	now := time.Date(2026, 1, 1, 10, 0, 59, 0, time.UTC)
	s, err := New(Config{Dir: dir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).Unix(); s.origin != want {
		t.Errorf("sequence numbers count from %v, want %v", time.Unix(s.origin, 0).UTC(), time.Unix(want, 0).UTC())
	}
	for _, cfg := range []Config{{Dir: dir, Behind: -time.Second}, {Dir: dir, Behind: 2 * time.Hour}, {Dir: dir, Window: 601},
		{Dir: dir, Window: -1}, {Dir: t.TempDir()}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) took it", cfg)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "7.ts"), []byte("<html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "7.ts") {
		t.Errorf("New with a bad segment: %v", err)
	}
}

func TestServe(t *testing.T) {
	s, err := New(Config{Dir: fakeLoop(t), Behind: 25 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", PlaylistPath, 200, "application/vnd.apple.mpegurl"},
		{"HEAD", PlaylistPath, 200, "application/vnd.apple.mpegurl"},
		{"GET", "/seg/0.ts", 200, "video/mp2t"},
		{"GET", "/seg/59.ts", 200, "video/mp2t"},
		{"GET", "/seg/60.ts", 404, ""},
		{"GET", "/seg/07.ts", 404, ""},
		{"GET", "/seg/-1.ts", 404, ""},
		{"GET", "/seg/1", 404, ""},
		{"GET", "/seg/../live.m3u8", 404, ""},
		{"GET", "/", 404, ""},
		{"POST", PlaylistPath, 405, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || (tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: no Access-Control-Allow-Origin: *", tc.method, tc.path)
		}
		if tc.path == "/seg/59.ts" && string(body) != "\x47\x3b" {
			t.Errorf("segment 59: %q", body)
		}
	}
}

// TestServeLoopbackOnly: Serve serves on loopback until its context ends,
// and refuses any other address.
func TestServeLoopbackOnly(t *testing.T) {
	s, err := New(Config{Dir: fakeLoop(t)})
	if err != nil {
		t.Fatal(err)
	}
	if ln, err := net.Listen("tcp", "0.0.0.0:0"); err == nil {
		if err := s.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("Serve on %s: %v, want refused", ln.Addr(), err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + PlaylistPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET %s: %d", PlaylistPath, res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// FuzzServe: any path and method is answered 200 (the playlist or a
// segment), 404 or 405, never anything else.
func FuzzServe(f *testing.F) {
	s, err := New(Config{Dir: fakeLoop(f)})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{PlaylistPath, "/seg/0.ts", "/seg/59.ts", "/seg/60.ts", "/seg/+1.ts", "/seg/1e1.ts", "/seg/9223372036854775808.ts", "", "/seg/", "/live.m3u8/"} {
		f.Add("GET", seed)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Method, req.URL.Path = method, path
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch w.Code {
		case 200:
			if path != PlaylistPath && !strings.HasPrefix(path, "/seg/") {
				t.Fatalf("200 for %q", path)
			}
		case 404, 405:
		default:
			t.Fatalf("%s %q: %d", method, path, w.Code)
		}
	})
}

// TestRender renders the loop with ffmpeg and reads the code back from
// frames ffmpeg decodes: the frame at t seconds carries t×FPS.
func TestRender(t *testing.T) {
	ffmpeg := testenv.RequireTool(t, "ffmpeg", InstallHint)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Render(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, frame := range []int{0, 1, 937, 1024, Segments*FPS - 1} {
		at := strconv.FormatFloat(float64(frame)/FPS, 'f', 3, 64)
		out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-ss", at, "-i", filepath.Join(dir, "loop.m3u8"),
			"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
		if err != nil || len(out) != Width*Height {
			t.Fatalf("decoding the frame at %s s: %v (%d bytes)", at, err, len(out))
		}
		got := 0
		for b := range Code.Bits {
			x, y := Code.X0+b*Code.Step+Code.Size/2, Code.Y+Code.Size/2
			if out[y*Width+x] > 128 {
				got |= 1 << b
			}
		}
		if got != frame {
			t.Errorf("frame at %s s carries %d, want %d", at, got, frame)
		}
	}
}
