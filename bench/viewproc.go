package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// finishMsg tells a viewer group what to wait for before it reports: every
// viewer's total per match reaching Targets, counting windows from SinceMs,
// or TimeoutMs passing.
type finishMsg struct {
	Targets   map[string]int64 `json:"targets"`
	SinceMs   int64            `json:"since_ms"`
	TimeoutMs int64            `json:"timeout_ms"`
}

// ServeViewers is the body of a viewer process ("emostream bench-viewers"):
// it connects --viewers viewers to the --ws URLs, writes one line {"ready":
// true} to stdout, reads one finish line from stdin, waits for it, and
// writes its ViewerReport as one JSON line. Its CPU and memory come from
// /proc/self.
func ServeViewers(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench-viewers", flag.ContinueOnError)
	ws := fs.String("ws", "", "leaf WebSocket URLs, comma-separated")
	n := fs.Int("viewers", 1, "viewers to connect")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ws == "" || *n < 1 {
		return errors.New("bench-viewers: --ws and a positive --viewers are required")
	}
	g, err := startViewers(strings.Split(*ws, ","), *n)
	if err != nil {
		return err
	}
	defer g.close()
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(map[string]bool{"ready": true}); err != nil {
		return err
	}
	var f finishMsg
	if err := json.NewDecoder(stdin).Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("bench-viewers: reading the finish line: %w", err)
	}
	r, err := g.finish(ctx, f)
	if err != nil {
		return err
	}
	r.Processes = []ProcStats{readProc(0)}
	return enc.Encode(r)
}

// viewerProc is a child process of viewers.
type viewerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startViewerProc runs command with the viewer flags and waits for it to
// say it is ready.
func startViewerProc(ctx context.Context, command []string, urls []string, n int) (*viewerProc, error) {
	args := append(command[1:len(command):len(command)], "--ws", strings.Join(urls, ","), "--viewers", fmt.Sprint(n))
	cmd := exec.CommandContext(ctx, command[0], args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting viewers %v: %w", command, err)
	}
	p := &viewerProc{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20)}
	var ready struct{ Ready bool }
	if err := p.readLine(&ready); err != nil || !ready.Ready {
		p.kill()
		return nil, fmt.Errorf("bench: viewer process not ready: %v: %s", err, stderr.String())
	}
	return p, nil
}

func (p *viewerProc) readLine(v any) error {
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// finish sends f and returns the process's report once it exited.
func (p *viewerProc) finish(_ context.Context, f finishMsg) (ViewerReport, error) {
	var r ViewerReport
	if err := json.NewEncoder(p.stdin).Encode(f); err != nil {
		p.kill()
		return r, fmt.Errorf("bench: viewer process %d: %w", p.cmd.Process.Pid, err)
	}
	if err := p.readLine(&r); err != nil {
		p.kill()
		return r, fmt.Errorf("bench: viewer process %d report: %w", p.cmd.Process.Pid, err)
	}
	p.stdin.Close()
	return r, p.cmd.Wait()
}

// kill ends the process (only this child, by its pid) and reaps it.
func (p *viewerProc) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func (p *viewerProc) close() {
	p.stdin.Close()
	if p.cmd.ProcessState == nil {
		p.kill()
	}
}
