package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
)

// TestMonitorUser: the operators' read-only user "monitor", on a hub of
// the repository's nats.conf (password from EMOSTREAM_MONITOR_PASSWORD)
// and on a hub of flags (password in --nats-auth-dir's monitor.password,
// created like the stages'), lists and reads streams, consumers, the
// registry bucket and messages with the NATS CLI, and is refused every
// change, purge, delete, consumer and publish, which change nothing.
func TestMonitorUser(t *testing.T) {
	bin := testenv.RequireTool(t, "nats", testenv.NATSCLIInstall)
	conf, err := filepath.Abs("../../nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	confPassword := func(user string) string { return "test-password-" + user }
	hub := []string{"hub", "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", "127.0.0.1:0"}
	for _, tt := range []struct {
		name     string
		args     func(dir string) []string
		password func(t *testing.T, dir, user string) string
	}{
		{"nats.conf", func(dir string) []string { return slices.Concat(hub, []string{"-c", conf, "--data-dir", dir}) },
			func(_ *testing.T, _, user string) string { return confPassword(user) }},
		{"nats-auth-dir", func(dir string) []string {
			return slices.Concat(hub, []string{"--data-dir", dir, "--nats-auth-dir", filepath.Join(dir, "auth")})
		}, func(t *testing.T, dir, user string) string {
			b, err := os.ReadFile(filepath.Join(dir, "auth", user+".password"))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each mostly waits for refusals to time out
			dir := t.TempDir()
			var env []string
			for _, u := range []string{"ingest", "bridge", "processor", "admin", "edge", "monitor", "leaf"} {
				env = append(env, "EMOSTREAM_"+strings.ToUpper(u)+"_PASSWORD="+confPassword(u))
			}
			_, got := startStage(t, dir, env, tt.args(dir), `stages connect to (nats://\S+)`)
			url := got[0]
			creds := func(user string) []nats.Option { return []nats.Option{nats.UserInfo(user, tt.password(t, dir, user))} }
			fx := testenv.NewMonitorFixture(t, url, creds)
			testenv.CheckMonitorUser(t, bin, url, tt.password(t, dir, "monitor"), fx)
		})
	}
}
