package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// asMainEnv makes this test binary run main, as the emostream binary:
// tests start it as a child process that a signal can kill.
const asMainEnv = "EMOSTREAM_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	guardDefaultPorts() // ports_test.go
	if os.Getenv(asMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if !reportDefaultPorts() && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// child is emostream running as a child process.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr testenv.LogBuffer
	done           chan struct{}
}

// startChild runs emostream args in dir with the extra environment; it is
// killed when the test ends.
func startChild(t *testing.T, dir string, env []string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), done: make(chan struct{})}
	c.cmd.Dir, c.cmd.Stdout, c.cmd.Stderr = dir, &c.stdout, &c.stderr
	c.cmd.Env = append(append(withoutEmostreamVars(), asMainEnv+"=1"), env...)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.cmd.Process.Kill(); <-c.done })
	return c
}

func withoutEmostreamVars() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EMOSTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady waits until the child printed ready.
func (c *child) waitReady(t *testing.T, ready string) {
	t.Helper()
	testenv.WaitFor(t, time.Minute, "output "+ready, func() bool {
		select {
		case <-c.done:
			t.Fatalf("%v exited: %v\n%s%s", c.cmd.Args[1:], c.cmd.ProcessState, c.stdout.String(), c.stderr.String())
		default:
		}
		return strings.Contains(c.stdout.String(), ready)
	})
}

// exit waits for the child to exit by itself and returns its exit code.
func (c *child) exit(t *testing.T) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%v still runs after 30 s\n%s%s", c.cmd.Args[1:], c.stdout.String(), c.stderr.String())
	}
	return c.cmd.ProcessState.ExitCode()
}

// TestDataDirInUse: a second up, kafka, hub -c or leaf -c on a data or
// store directory in use exits at once, non-zero, with one line naming the
// directory and the holder; after kill -9 of the holder the directory is
// taken over. Both hubs load the repository's nats.conf from one working
// directory, whose relative store_dir is then one store.
func TestDataDirInUse(t *testing.T) {
	nats, err := filepath.Abs("../../nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	var hubEnv []string
	for _, u := range []string{"INGEST", "BRIDGE", "PROCESSOR", "ADMIN", "EDGE", "MONITOR", "LEAF"} {
		hubEnv = append(hubEnv, "EMOSTREAM_"+u+"_PASSWORD=test-password-"+strings.ToLower(u))
	}
	hub := []string{"hub", "-c", nats, "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", "127.0.0.1:0"}
	kafka := func(dir string) []string { return []string{"kafka", "--data-dir", dir, "--listen", "127.0.0.1:0"} }
	tests := []struct {
		name          string
		first, second func(dir string) []string
		env           []string
		shown         string // the directory as the message names it; "" for dir
		hint          string
	}{
		{name: "up", first: upIn, second: upIn},
		{name: "kafka", first: kafka, second: kafka},
		{name: "kafka then up", first: kafka, second: upIn},
		{name: "hub -c nats.conf", first: func(string) []string { return hub }, second: func(string) []string { return hub },
			env: hubEnv, shown: "./.emostream"},
		{name: "leaf -c", first: leafIn, second: leafIn, shown: "./js", hint: "give this leaf another store_dir"},
	}
	// What each command prints once it runs.
	ready := map[string]string{"up": "EmoStream is up", "kafka": "Kafka broker on", "hub": "hub: stages connect to",
		"leaf": "leaf: viewers connect to"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			shown := dir
			if tt.shown != "" {
				shown = tt.shown
			}
			firstArgs, secondArgs := tt.first(dir), tt.second(dir)
			first := startChild(t, dir, tt.env, firstArgs...)
			first.waitReady(t, ready[firstArgs[0]])
			second := startChild(t, dir, tt.env, secondArgs...)
			if code := second.exit(t); code != 1 {
				t.Fatalf("the second exited with %d, want 1\n%s", code, second.stderr.String())
			}
			wantInUse(t, second.stderr.String(), shown, first.cmd.Process.Pid, firstArgs[0], tt.hint)

			first.cmd.Process.Signal(syscall.SIGKILL)
			<-first.done
			third := startChild(t, dir, tt.env, secondArgs...)
			third.waitReady(t, ready[secondArgs[0]])
			third.cmd.Process.Signal(syscall.SIGTERM)
			if code := third.exit(t); code != 0 {
				t.Errorf("after taking the directory over: exit %d\n%s", code, third.stderr.String())
			}
		})
	}
}

// wantInUse checks that stderr ends with the one line about dir in use by
// pid running command.
func wantInUse(t *testing.T, stderr, dir string, pid int, command, hint string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	want := "data directory " + dir + " is in use by pid " + strconv.Itoa(pid) + " (" + filepath.Base(os.Args[0]) + " " + command + " "
	if hint == "" {
		hint = "use another --data-dir"
	}
	if !strings.HasPrefix(last, "emostream: ") || !strings.Contains(last, want) || !strings.HasSuffix(last, "); stop it or "+hint) ||
		strings.Count(stderr, " is in use ") != 1 {
		t.Fatalf("stderr ends with %q, want one line with %q…%q\n%s", last, want, hint, stderr)
	}
	t.Log(last)
}

// upIn is up on free ports with its data in dir.
func upIn(dir string) []string {
	return []string{"up", "--data-dir", dir, "--kafka", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--ops", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", "127.0.0.1:0",
		"--ws", "127.0.0.1:0", "--demo-match", ""}
}

// leafIn is a leaf -c of a file in dir that gives it JetStream in dir/js.
func leafIn(dir string) []string {
	conf := filepath.Join(dir, "leaf.conf")
	text := "listen: 127.0.0.1:-1\njetstream {store_dir: \"./js\", domain: leaf}\n" +
		"leafnodes {remotes: [{url: \"nats-leaf://127.0.0.1:1\"}]}\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		panic(err)
	}
	return []string{"leaf", "-c", conf}
}
