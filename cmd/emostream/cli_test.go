package main

import (
	"strings"
	"testing"
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
