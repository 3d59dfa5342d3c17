package teststream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The loop Render makes.
const (
	// Segments is the loop's length in 1-second segments.
	Segments = 60
	// FPS is its frame rate: a frame is 40 ms of program time.
	FPS = 25
	// Width and Height are its picture size.
	Width, Height = 320, 180
)

// Code is where each frame carries its number in the loop (0 to
// Segments×FPS-1), bit b as a white (1) or black (0) box of Size×Size
// pixels at (X0 + b×Step, Y) of the Width×Height picture.
var Code = struct{ Bits, X0, Step, Y, Size int }{Bits: 11, X0: 6, Step: 28, Y: 152, Size: 24}

// ErrNoFFmpeg is returned by Render when ffmpeg is not on the PATH.
var ErrNoFFmpeg = errors.New("teststream: ffmpeg not found; install it with: apt-get install -y ffmpeg")

// InstallHint is what a test or command without ffmpeg tells the user.
const InstallHint = "apt-get install -y ffmpeg"

// Render writes the loop into dir (0.ts to 59.ts and ffmpeg's own
// loop.m3u8) with the ffmpeg on the PATH, and checks what it wrote.
func Render(ctx context.Context, dir string) error {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return ErrNoFFmpeg
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("teststream: %w", err)
	}
	cmd := exec.CommandContext(ctx, ffmpeg, renderArgs(dir)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("teststream: ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return checkLoop(dir)
}

// renderArgs are ffmpeg's arguments: testsrc2 with the code and the
// seconds drawn on it, H.264 with a key frame every second (so every
// segment is exactly one second), cut into HLS segments.
func renderArgs(dir string) []string {
	vf := []string{fmt.Sprintf("drawbox=x=0:y=%d:w=%d:h=%d:color=black:t=fill", Code.Y-4, Width, Code.Size+8)}
	for b := range Code.Bits {
		vf = append(vf, fmt.Sprintf("drawbox=x=%d:y=%d:w=%d:h=%d:color=white:t=fill:enable='eq(mod(floor(n/%d),2),1)'",
			Code.X0+b*Code.Step, Code.Y, Code.Size, Code.Size, 1<<b))
	}
	vf = append(vf, `drawtext=text='program time %{eif\:trunc(t)\:d\:2}.%{eif\:mod(n\,25)*4\:d\:2}':`+
		`fontsize=28:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=6:x=(w-tw)/2:y=40`)
	return []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d:duration=%d", Width, Height, FPS, Segments),
		"-vf", strings.Join(vf, ","),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-bf", "0",
		"-g", strconv.Itoa(FPS), "-keyint_min", strconv.Itoa(FPS), "-sc_threshold", "0",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_flags", "program_date_time",
		"-hls_segment_filename", filepath.Join(dir, "%d.ts"), filepath.Join(dir, "loop.m3u8")}
}

// checkLoop checks ffmpeg's playlist: Segments segments of one second.
func checkLoop(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "loop.m3u8"))
	if err != nil {
		return fmt.Errorf("teststream: %w", err)
	}
	if n, whole := bytes.Count(b, []byte("#EXTINF:")), bytes.Count(b, []byte("#EXTINF:1.000000,")); n != Segments || whole != Segments {
		return fmt.Errorf("teststream: ffmpeg wrote %d segments, %d of them 1 s long; want %d of 1 s", n, whole, Segments)
	}
	if !bytes.Contains(b, []byte("#EXT-X-PROGRAM-DATE-TIME:")) {
		return errors.New("teststream: ffmpeg wrote no EXT-X-PROGRAM-DATE-TIME")
	}
	return nil
}
