//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// The floor listens on loopback only and refuses bad numbers; given an
// upstream, it prints where viewers connect.
func TestFloorCommand(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "want a loopback host:port"},
		{[]string{"--listen", "nohost"}, "want a loopback host:port"},
		{[]string{"--max-connections", "0"}, "--max-connections 0: want a positive value"},
		{[]string{"--loops", "-1"}, "--loops -1: want 0 or more"},
	} {
		if err := runCommand(t, nil, append([]string{"floor"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("floor %v: got %v, want %q", tt.args, err, tt.want)
		}
	}
	n := testenv.StartNATS(t)
	url := runUntil(t, regexp.MustCompile(`floor: viewers connect to (ws://127\.0\.0\.1:\d+)`), "floor", "--nats", n.URL)
	if url == "" {
		t.Fatal("no URL printed")
	}
}

// The floor reaches a leaf as the edge does, with --nats-user edge and
// --nats-password-file: the leaf refuses it without them or with a wrong
// password, and admits it as user edge with them (issue: edge-bench had
// to put the password in the floor's --nats URL, which ps shows).
func TestFloorLeafCredentials(t *testing.T) {
	hubOut, _ := runLogged(t, "hub", "--data-dir", t.TempDir(), "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0",
		"--monitor", "", "--leaf-password", "hubleafpass0123456789")
	hubLeaf := waitMatch(t, hubOut, "the hub started", `leaf clusters connect to nats-leaf://(\S+)`)
	auth := filepath.Join(t.TempDir(), "leaf-auth")
	leafOut, _ := runLogged(t, "leaf", "--remote", "nats-leaf://leaf:hubleafpass0123456789@"+hubLeaf, "--nats-auth-dir", auth,
		"--ws", "127.0.0.1:0", "--monitor", "127.0.0.1:0")
	leafURL := waitMatch(t, leafOut, "the leaf started", `leaf: edges connect to (\S+) as user edge`)
	monitor := waitMatch(t, leafOut, "the leaf's monitoring", `leaf: monitoring on (\S+)/varz`)
	password := filepath.Join(auth, edgePasswordFile)
	wrong := filepath.Join(t.TempDir(), "wrong.password")
	if err := os.WriteFile(wrong, []byte("not-the-edge-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, creds := range map[string][]string{
		"no credentials": nil,
		"wrong password": {"--nats-user", "edge", "--nats-password-file", wrong},
		"another user":   {"--nats-user", "ingest", "--nats-password-file", password},
	} {
		args := append([]string{"floor", "--nats", leafURL, "--listen", "127.0.0.1:0"}, creds...)
		if err := runCommand(t, nil, args...); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: got %v, want the leaf's authorization error", name, err)
		}
	}
	out, stop := runLogged(t, "floor", "--nats", leafURL, "--nats-user", "edge", "--nats-password-file", password, "--listen", "127.0.0.1:0")
	waitMatch(t, out, "the floor connected", `floor: viewers connect to (ws://127\.0\.0\.1:\d+)`)
	testenv.WaitFor(t, 20*time.Second, "the floor on the leaf as user edge", func() bool {
		res, err := http.Get(monitor + "/connz?auth=true")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var z struct {
			Connections []struct {
				Name           string
				AuthorizedUser string `json:"authorized_user"`
			}
		}
		if json.NewDecoder(res.Body).Decode(&z) != nil {
			return false
		}
		for _, c := range z.Connections {
			if c.Name == "emostream floor" && c.AuthorizedUser == "edge" {
				return true
			}
		}
		return false
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
