package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
)

// TestFlagParseErrorIsOneLine: a flag that does not parse ends the
// command with one line on stderr that names the command and points at
// its --help, exit status 2, and nothing on stdout: not the whole usage
// (issue 21). --help still prints the usage.
func TestFlagParseErrorIsOneLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ingest", "-x"}, "emostream ingest: flag provided but not defined: -x (see emostream ingest --help)"},
		{[]string{"send", "--count", "many"}, `emostream send: invalid value "many" for flag -count: parse error (see emostream send --help)`},
		{[]string{"up", "--window"}, "emostream up: flag needs an argument: -window (see emostream up --help)"},
		{[]string{"match", "create", "--nope"}, "emostream match create: flag provided but not defined: -nope (see emostream match create --help)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c := startChild(t, t.TempDir(), nil, tt.args...)
			if code := c.exit(t); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if got := c.stderr.String(); got != tt.want+"\n" {
				t.Errorf("stderr:\n%s\nwant the one line:\n%s", got, tt.want)
			}
			if got := c.stdout.String(); got != "" {
				t.Errorf("stdout: %q, want nothing", got)
			}
		})
	}
	out, err := runCLI(t, "ingest", "--help")
	if err == nil || err.Error() != "flag: help requested" || !strings.Contains(out, "Usage: emostream ingest") || !strings.Contains(out, "--kafka-brokers") {
		t.Errorf("ingest --help: %v, %q; want the usage", err, out)
	}
}

// TestHubNeverLogsAPassword: hub without -c, at --log-level debug and with
// stage passwords (--nats-auth-dir), prints and logs none of its
// passwords: not at start, not when a client is refused its password or
// admitted, not when a second hub fails on the same data directory
// (issue 21: it printed the leaf remote with the leaf password).
func TestHubNeverLogsAPassword(t *testing.T) {
	data, auth := t.TempDir(), t.TempDir()
	args := []string{"hub", "--data-dir", data, "--nats-auth-dir", auth, "--nats", "127.0.0.1:0",
		"--leafnodes", "127.0.0.1:0", "--monitor", "127.0.0.1:0", "--log-level", "debug"}
	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, env, args) }()
	re := regexp.MustCompile(`stages connect to (nats://\S+)`)
	testenv.WaitFor(t, 20*time.Second, "the hub started", func() bool { return re.MatchString(out.String()) })
	url := re.FindStringSubmatch(out.String())[1]
	passwords := map[string]string{}
	for _, f := range []string{filepath.Join(data, leafPasswordFile), filepath.Join(auth, "ingest.password"), filepath.Join(auth, "admin.password")} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) < 16 {
			t.Fatalf("%s: %q, %v", f, b, err)
		}
		passwords[f] = strings.TrimSpace(string(b))
	}
	if nc, err := nats.Connect(url, nats.UserInfo("ingest", passwords[filepath.Join(auth, "ingest.password")]+"x"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("a wrong password was admitted")
	}
	nc, err := nats.Connect(url, nats.UserInfo("admin", passwords[filepath.Join(auth, "admin.password")]))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	var second bytes.Buffer
	env2 := &environment{stdin: strings.NewReader(""), stdout: &second, stderr: &second, getenv: func(string) string { return "" }}
	err = dispatch(context.Background(), env2, args)
	fmt.Fprintf(&second, "%v\n", err)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkPasswordsHidden(t, "hub", passwords, out.String(), second.String())
	if !strings.Contains(out.String(), "the password in "+filepath.Join(data, leafPasswordFile)) {
		t.Errorf("the output does not say where the leaf password is:\n%s", out.String())
	}
}

// checkPasswordsHidden fails t if any of passwords (by where it is kept)
// is in one of who's outputs.
func checkPasswordsHidden(t *testing.T, who string, passwords map[string]string, outputs ...string) {
	t.Helper()
	for _, text := range outputs {
		for f, p := range passwords {
			if strings.Contains(text, p) {
				t.Errorf("the password of %s is in the %s's output:\n%s", f, who, text)
			}
		}
	}
}
