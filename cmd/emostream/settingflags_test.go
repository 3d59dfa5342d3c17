package main

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// commandFlagSet is the flag set of command, as its run function builds it.
func commandFlagSet(t *testing.T, env *environment, command string) *flag.FlagSet {
	t.Helper()
	fs := newFlags(env, command, "")
	switch command {
	case "bridge":
		addBridgeFlags(fs)
	case "processor":
		addProcessorFlags(fs, true)
	case "edge":
		addEdgeFlags(fs)
	case "ingest":
		addIngestFlags(fs, env, ingestAlone)
	case "up":
		addUpFlags(fs, env)
	case "kafka":
		addKafkaFlags(fs)
	case "bench":
		addBenchFlags(fs)
	default:
		t.Fatalf("no flag set for %s", command)
	}
	return fs
}

// deprecatedSpellings are the renamed flags (issue 22): each old spelling
// with a value ("" for a boolean given alone), the flag it now sets, and
// the value that flag gets.
var deprecatedSpellings = []struct {
	command, old, value, now, want string
}{
	{"bridge", "metrics", "127.0.0.1:19102", "ops", "127.0.0.1:19102"},
	{"bridge", "metrics-host", "prom.internal", "ops-host", "prom.internal"},
	{"processor", "metrics", "127.0.0.1:19103", "ops", "127.0.0.1:19103"},
	{"processor", "deadline", "1s", "partition-wait", "1s"},
	{"processor", "no-moments", "", "moments", "false"},
	{"processor", "no-timeline", "", "timeline", "false"},
	{"up", "no-moments", "true", "moments", "false"},
	{"up", "no-timeline", "", "timeline", "false"},
	{"up", "max-conns", "100", "max-connections", "100"},
	{"up", "max-conns-per-prefix", "50", "max-per-network", "50"},
	{"ingest", "ops-listen", "127.0.0.1:19100", "ops", "127.0.0.1:19100"},
	{"ingest", "max-conns", "100", "max-connections", "100"},
	{"ingest", "max-conns-per-prefix", "50", "max-per-network", "50"},
	{"edge", "upstream", "nats://edge:pw@127.0.0.1:4223", "nats", "nats://edge:pw@127.0.0.1:4223"},
	{"edge", "write-deadline", "3s", "write-timeout", "3s"},
	{"edge", "metrics", "127.0.0.1:19104", "ops", "127.0.0.1:19104"},
	{"kafka", "no-sync", "", "sync", "false"},
	{"bench", "skip-ceilings", "", "ceilings", "false"},
}

// TestDeprecatedSpellings: an old spelling of a renamed flag, on the command
// line or in its own variable, still sets the flag, with one line on
// stderr naming the new spelling; the new spelling, given, wins over an
// old variable; --help lists the old spellings apart.
func TestDeprecatedSpellings(t *testing.T) {
	for _, tt := range deprecatedSpellings {
		now := "--" + tt.now
		if tt.want == "false" && strings.HasPrefix(tt.old, "no-") || tt.old == "skip-ceilings" {
			now += "=false"
		}
		t.Run(tt.command+"/"+tt.old, func(t *testing.T) {
			arg, envValue := "--"+tt.old, "true"
			if tt.value != "" {
				arg, envValue = arg+"="+tt.value, tt.value
			}
			oldVar, nowVar := envName(tt.command, tt.old), envName(tt.command, tt.now)
			for _, c := range []struct {
				how  string
				args []string
				vars map[string]string
				want string // the line on stderr
			}{
				{"command line", []string{arg}, nil, "emostream: --" + tt.old + " is deprecated: use " + now + "\n"},
				{"variable", nil, map[string]string{oldVar: envValue}, "emostream: " + oldVar + " is deprecated: use " +
					strings.Replace(now, "--"+tt.now, nowVar, 1) + "\n"},
			} {
				fs, stderr := parseWith(t, tt.command, c.args, c.vars)
				if got := fs.Lookup(tt.now).Value.String(); got != tt.want {
					t.Errorf("%s: --%s = %q, want %q", c.how, tt.now, got, tt.want)
				}
				if stderr != c.want {
					t.Errorf("%s: stderr %q, want %q", c.how, stderr, c.want)
				}
			}
			// The new spelling given wins, without a warning.
			other := map[string]string{"string": "x", "bool": "true", "int": "7", "duration": "7s"}[kind(t, tt.command, tt.now)]
			fs, stderr := parseWith(t, tt.command, []string{"--" + tt.now + "=" + other}, map[string]string{oldVar: envValue})
			if got := fs.Lookup(tt.now).Value.String(); got != other || stderr != "" {
				t.Errorf("--%s given, %s set: %q, stderr %q; want %q, no warning", tt.now, oldVar, got, stderr, other)
			}
		})
	}
	help, _ := runCLI(t, "edge", "--help")
	if !strings.Contains(help, "Deprecated spellings, still accepted with a warning: --metrics (now --ops)") ||
		strings.Contains(help, "  --upstream  [") {
		t.Errorf("edge --help lists the old spellings among the flags, or not apart:\n%s", help)
	}
}

// parseWith parses args and the variables vars with command's flags and
// returns them with what parsing wrote to stderr.
func parseWith(t *testing.T, command string, args []string, vars map[string]string) (*flag.FlagSet, string) {
	t.Helper()
	var stderr bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	fs := commandFlagSet(t, env, command)
	if err := parseFlags(fs, env, args); err != nil {
		t.Fatalf("%s %v %v: %v", command, args, vars, err)
	}
	return fs, stderr.String()
}

// kind is the type of a flag's value: string, bool, int or duration.
func kind(t *testing.T, command, name string) string {
	env := &environment{stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	switch v := commandFlagSet(t, env, command).Lookup(name).Value.(flag.Getter).Get().(type) {
	case bool:
		return "bool"
	case int:
		return "int"
	case time.Duration:
		return "duration"
	case string:
		return "string"
	default:
		t.Fatalf("--%s: %T", name, v)
	}
	return ""
}

// TestZeroTurnsOff: a setting that can be off is off at its zero (false, 0),
// which the library reads as off; the old negative spelling still works,
// with a warning naming 0.
func TestZeroTurnsOff(t *testing.T) {
	bridgeCfg := func(args ...string) (*bridgeFlags, *flag.FlagSet, *environment, *bytes.Buffer) {
		var stderr bytes.Buffer
		env := &environment{stderr: &stderr, getenv: func(string) string { return "" }}
		fs := newFlags(env, "bridge", "")
		f := addBridgeFlags(fs)
		if err := parseFlags(fs, env, args); err != nil {
			t.Fatal(err)
		}
		return f, fs, env, &stderr
	}
	for _, tt := range []struct {
		args []string
		warn string
	}{
		{[]string{"--dedup-horizon", "0", "--dedup-per-user", "0", "--fresh-lookback", "0"}, ""},
		{[]string{"--dedup-horizon", "-1s", "--dedup-per-user", "-1", "--fresh-lookback", "-1ns"},
			"emostream: --dedup-horizon -1s: a negative value is deprecated: 0 turns deduplication off\n" +
				"emostream: --dedup-per-user -1: a negative value is deprecated: 0 means no cap\n" +
				"emostream: --fresh-lookback -1ns: a negative value is deprecated: 0 counts the whole topic\n"},
	} {
		f, fs, env, stderr := bridgeCfg(tt.args...)
		c, err := f.config(fs, env)
		if err != nil || c.DedupHorizon >= 0 || c.DedupPerUser >= 0 || c.FreshLookback >= 0 || stderr.String() != tt.warn {
			t.Errorf("bridge %v: %v, horizon %v, per user %d, lookback %v, stderr %q; want all off (negative), warning %q",
				tt.args, err, c.DedupHorizon, c.DedupPerUser, c.FreshLookback, stderr, tt.warn)
		}
	}
	env := &environment{stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	fs := newFlags(env, "processor", "")
	pf := addProcessorFlags(fs, true)
	if err := parseFlags(fs, env, []string{"--moments=false", "--timeline=false", "--moment-share", "0", "--restart-grace", "0"}); err != nil {
		t.Fatal(err)
	}
	if pc, err := pf.config(fs, env); err != nil || !pc.Moments.Disable || !pc.DisableTimeline || pc.Moments.Share < 1 || pc.RestartGrace >= 0 {
		t.Errorf("processor off switches: %+v, %v", pc, err)
	}
	fs = newFlags(env, "edge", "")
	ef := addEdgeFlags(fs)
	if err := parseFlags(fs, env, []string{"--occupancy-interval", "0"}); err != nil {
		t.Fatal(err)
	}
	if ec, err := ef.config(fs, env); err != nil || ec.OccupancyInterval >= 0 {
		t.Errorf("edge --occupancy-interval 0: %v, %v; want off (negative)", ec.OccupancyInterval, err)
	}
	fs = newFlags(env, "kafka", "")
	kf := addKafkaFlags(fs)
	if err := parseFlags(fs, env, []string{"--sync=false"}); err != nil {
		t.Fatal(err)
	}
	if kc, err := kf.config(fs, env, slog.New(slog.DiscardHandler)); err != nil || !kc.DisableSync {
		t.Errorf("kafka --sync=false: DisableSync %v, %v", kc.DisableSync, err)
	}
}

// TestConfigErrorsNameTheFlag: what a library's Config refuses, it names
// by the field (package setting); the command names the flag that sets
// it, before it binds or starts anything.
func TestConfigErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "never-created")
	free := []string{"--ops", ""}
	tests := []struct {
		args []string
		want string // the whole message
	}{
		{[]string{"ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0", "--window", "150ms500us"},
			"--window 150.5ms: want whole milliseconds from 100ms to 1h"},
		{[]string{"ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0", "--ip-prefix-v4", "33"}, "--ip-prefix-v4 33: want 1 to 32"},
		{append(quietUp(t), "--data-dir", dataDir, "--window", "150ms500us"), "--window 150.5ms: want whole milliseconds from 100ms to 1h"},
		{append([]string{"bridge", "--window", "150ms500us"}, free...), "--window 150.5ms: want whole milliseconds from 100ms to 1h"},
		{append([]string{"bridge", "--close-delay", "2s"}, free...), "--close-delay 2s: want 0 to less than Window (2s)"},
		{append([]string{"bridge", "--dedup-per-user", "70000"}, free...), "--dedup-per-user 70000: want at most 65535"},
		{append([]string{"processor", "--window", "150ms500us"}, free...), "--window 150.5ms: want whole milliseconds from 100ms to 1h"},
		{append([]string{"processor", "--moment-baseline", "1s"}, free...), "--moment-baseline 1s: want 3 to 1800 windows of 2s"},
		{append([]string{"processor", "--moment-factor", "0.5"}, free...), "--moment-factor 0.5: want at least 1, finite"},
		{append([]string{"edge", "--listen", "127.0.0.1:0", "--tls-cert", "c.pem"}, free...), "--tls-key: want both a certificate and a key, or neither"},
		{[]string{"leaf", "--remote", "nats-leaf://127.0.0.1:1", "--ws", "127.0.0.1:0", "--tls-cert", "c.pem"},
			"--tls-key: want both a certificate and a key, or neither"},
		{[]string{"hub", "--data-dir", dir, "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", "",
			"--tls-ca", "ca.pem", "--tls-verify"}, "--tls-cert: want a certificate and a key for a listener"},
		{[]string{"loadgen", "--emoji-mix", "🔥=1", "--batch", "2000"}, "--batch 2000: want 1 to 1000"},
		{[]string{"bench", "--viewers", "30000"}, "--viewers 30000: want 1 to 20000"},
		{[]string{"send", "--target", "ftp://x"}, `send: --target "ftp://x": want http:// or https://host[:port]`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := runCommand(t, map[string]string{"EMOSTREAM_BRIDGE_KAFKA_BROKERS": "127.0.0.1:1"}, tt.args...)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("up made its data directory before refusing its flags: %v", err)
	}
}
