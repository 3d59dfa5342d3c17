package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
)

// run runs the binary's command line in-process and returns its output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	err := dispatch(context.Background(), env, args)
	return out.String() + errOut.String(), err
}

// TestMatchCommands drives create, start, end, ls and rm against a real
// NATS server with JetStream.
func TestMatchCommands(t *testing.T) {
	n := testenv.StartNATS(t)
	nats := "--nats=" + n.URL
	steps := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"match", "create", nats, "--id", "final", "--title", "The final", "--home", "A", "--away", "B",
			"--planned-start", "2026-12-24T18:00:00Z"}, "final is scheduled", ""},
		{[]string{"match", "create", nats, "--id", "final"}, "", "already exists"},
		{[]string{"match", "create", nats, "--id", "final", "--max-matches", "1"}, "", "already exists"},
		{[]string{"match", "create", nats, "--id", "third", "--max-matches", "1"}, "", "registry full: 1 of 1; end and delete matches (match end, match rm) or raise --max-matches"},
		{[]string{"match", "create", nats, "--id", "third", "--max-matches", "0"}, "", "--max-matches 0"},
		{[]string{"match", "create", nats, "--id", "bad.id"}, "", "invalid match"},
		{[]string{"match", "create", nats, "--id", "x", "--planned-start", "tomorrow"}, "", "RFC 3339"},
		{[]string{"match", "create", nats}, "", "--id is required"},
		{[]string{"match", "start", nats, "--id", "final"}, "final is live", ""},
		{[]string{"match", "start", nats, "--id", "final"}, "", "cannot become live"},
		{[]string{"match", "create", nats, "--id", "other", "--live"}, "other is live", ""},
		{[]string{"match", "end", nats, "--id", "final"}, "final is ended", ""},
		{[]string{"match", "end", nats, "--id", "nope"}, "", "unknown match"},
		{[]string{"match", "rm", nats, "--id", "other"}, "removed other", ""},
		{[]string{"match", "pause", nats}, "", "usage"},
	}
	for _, s := range steps {
		out, err := runCLI(t, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error()+out, s.wantErr) {
				t.Fatalf("%v: got %q, %v; want error %q", s.args, out, err, s.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("%v: got %q, %v; want %q", s.args, out, err, s.want)
		}
	}
	out, err := runCLI(t, "match", "ls", nats, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ms []registry.Match
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("ls --json: %v: %s", err, out)
	}
	if len(ms) != 1 || ms[0].ID != "final" || ms[0].State != registry.Ended || ms[0].Title != "The final" {
		t.Fatalf("ls: %+v", ms)
	}
	out, err = runCLI(t, "match", "ls", nats)
	if err != nil || !strings.Contains(out, "final") || !strings.Contains(out, "2026-12-24T18:00:00Z") {
		t.Fatalf("ls table: %q %v", out, err)
	}
}

func TestVersion(t *testing.T) {
	if out, err := runCLI(t, "version", "--help"); err != nil || !strings.Contains(out, "Usage: emostream version") {
		t.Errorf("version --help: %q, %v", out, err)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := runCLI(t, args...)
		if err != nil || !strings.HasPrefix(out, "emostream ") || !strings.Contains(out, " commit ") || !strings.Contains(out, "go1.") {
			t.Errorf("%v: %q, %v", args, out, err)
		}
	}
}
