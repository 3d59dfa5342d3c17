package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one stage running as a child process of the real binary, in its
// own process group so that signals reach it (and anything it starts) whole.
type proc struct {
	t    testing.TB
	name string
	args []string
	env  []string // added to the environment
	wrap []string // runs binary args as wrap... binary args (ip netns exec NS)
	log  string   // its stdout and stderr, appended across restarts

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool     // the harness killed or stopped it on purpose
	crashes  []string // exits the harness did not cause
	stopped  bool
}

// start runs the process; it must not be running.
func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== chaos: starting %s %s at %s\n", p.name, strings.Join(p.args, " "), time.Now().Format(time.RFC3339Nano))
	argv := slices.Concat(p.wrap, []string{binary}, p.args)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(cleanEnv(), p.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.expected, p.stopped = cmd, done, false, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		if !p.expected {
			p.crashes = append(p.crashes, fmt.Sprintf("%s exited by itself: %v", p.name, err))
		}
		p.mu.Unlock()
		close(done)
	}()
}

// cleanEnv is the environment without EMOSTREAM_ variables, so that a
// developer's settings cannot change what the stages do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EMOSTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// signal sends sig to the process group.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return errors.New("not started")
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.t.Helper()
	p.mu.Lock()
	p.expected = true
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return
	}
	_ = p.signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s survived SIGKILL for 30s", p.name)
	}
}

// pause stops the process group (SIGSTOP); resume continues it.
func (p *proc) pause() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	if err := p.signal(syscall.SIGSTOP); err != nil {
		p.t.Errorf("SIGSTOP %s: %v", p.name, err)
	}
}

func (p *proc) resume() {
	if err := p.signal(syscall.SIGCONT); err != nil {
		p.t.Errorf("SIGCONT %s: %v", p.name, err)
	}
	p.mu.Lock()
	p.stopped = false
	p.mu.Unlock()
}

// restart kills the process with SIGKILL and starts it again with the same
// arguments (same ports, same data directory).
func (p *proc) restart() {
	p.kill()
	p.start()
}

// crashed returns the exits the harness did not cause.
func (p *proc) crashed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashes...)
}

// logTail is the end of the process's log, for failure messages.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
