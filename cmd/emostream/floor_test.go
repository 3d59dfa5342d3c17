//go:build linux

package main

import (
	"regexp"
	"strings"
	"testing"

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
