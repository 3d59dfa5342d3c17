package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// quietUp is "up" on free ports with its data in a temp dir: the flags
// that follow override these.
func quietUp(t *testing.T) []string {
	return []string{"up", "--data-dir", t.TempDir(), "--kafka", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--ops", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", "127.0.0.1:0",
		"--ws", "127.0.0.1:0", "--demo-match", ""}
}

// TestBusyPortFailsFast: a taken address ends up, hub and leaf with an
// error that names the flag and the address, without a panic, the 30 s
// start timeout or a server starting. (It is the one line main prints.)
func TestBusyPortFailsFast(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "hub.conf")
	fileAddr := testenv.BusyAddr(t)
	store := strconv.Quote(filepath.Join(t.TempDir(), "js")) // locked before the port fails: not in the source tree
	if err := os.WriteFile(conf, []byte("listen: "+fileAddr+"\njetstream {store_dir: "+store+"}\nleafnodes {listen: \"127.0.0.1:-1\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf := []string{"leaf", "--remote", "nats-leaf://leaf:pw@127.0.0.1:1", "--ws", "127.0.0.1:0"}
	hub := []string{"hub", "--data-dir", t.TempDir(), "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", "127.0.0.1:0"}
	tests := []struct {
		name string
		args []string
		flag string // "" for the file's own address
	}{
		{"up/nats", quietUp(t), "nats"},
		{"up/monitor", quietUp(t), "monitor"},
		{"up/ws", quietUp(t), "ws"},
		{"up/http", quietUp(t), "http"},
		{"up/kafka", quietUp(t), "kafka"},
		{"up/ops", quietUp(t), "ops"},
		{"hub/nats", hub, "nats"},
		{"hub/leafnodes", hub, "leafnodes"},
		{"hub/monitor", hub, "monitor"},
		{"leaf/ws", leaf, "ws"},
		{"leaf/monitor", leaf, "monitor"},
		{"hub -c, the file's port", []string{"hub", "-c", conf}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, addr, flagName := tt.args, fileAddr, "-c "+conf
			if tt.flag != "" {
				addr, flagName = testenv.BusyAddr(t), "--"+tt.flag
				args = append(slices.Clone(args), flagName, addr)
			}
			var out testenv.LogBuffer
			env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
			defer cancel()
			err := dispatch(ctx, env, args)
			if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), flagName) ||
				!strings.Contains(err.Error(), "address already in use") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v; want one line naming %s and %s in use\n%s", err, flagName, addr, out.String())
			}
			if ctx.Err() != nil {
				t.Fatalf("returned only at the test's deadline: %v", err)
			}
		})
	}
}

// TestSharedAddressNamesBothFlags: two of up's listeners given one
// address end up before anything starts, with one line naming both
// flags, not "another process listens there" (the second bind's error).
func TestSharedAddressNamesBothFlags(t *testing.T) {
	for _, pair := range [][2]string{{"http", "ws"}, {"http", "ops"}, {"nats", "leafnodes"}, {"kafka", "monitor"}, {"ws", "ws"}} {
		t.Run(pair[0]+"/"+pair[1], func(t *testing.T) {
			addr := testenv.BusyAddr(t) // taken too: the shared address is named first
			args := append(quietUp(t), "--"+pair[0], addr, "--"+pair[1], addr)
			if pair[0] == pair[1] {
				args = append(quietUp(t), "--"+pair[0], addr+","+addr)
			}
			err := runCommand(t, nil, args...)
			want := fmt.Sprintf("--%s %s: --%s listens there too", pair[1], addr, pair[0])
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v; want one line with %q", err, want)
			}
		})
	}
}

// TestStartInterrupted: a context that ends (Ctrl-C) during start-up stops
// up at once.
func TestStartInterrupted(t *testing.T) {
	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := dispatch(ctx, env, quietUp(t)); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("got %v, want interrupted\n%s", err, out.String())
	}
}

// TestBadFlagsRefused: values the stages would take as a default, or
// refuse only once servers run, are refused before anything starts.
func TestBadFlagsRefused(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--swarm-threshold", "0"}, "--swarm-threshold 0: want a positive value"},
		{[]string{"--window", "0"}, "--window 0s"},
		{[]string{"--window", "150ms500us"}, "whole milliseconds"},
		{[]string{"--emojis", "notanemoji"}, `"notanemoji" is not an emoji`},
		{[]string{"--emojis", "🔥,a🔥"}, `"a🔥" is not an emoji`},
		{[]string{"--ws-urls", "notaurl"}, `--ws-urls: "notaurl"`},
		{[]string{"--ws-urls", "http://x:1"}, `want ws:// or wss://`},
		{[]string{"--video-origins", "cdn.example"}, `--video-origins "cdn.example": want http(s)://host[:port]`},
		{[]string{"--video-origins", "https://cdn.example/hls"}, `--video-origins "https://cdn.example/hls"`},
		{[]string{"--user-rate", "-5"}, "--user-rate -5: want 0 (off) or more"},
		{[]string{"--body-limit", "0"}, "--body-limit 0: want a positive value"},
		{[]string{"--ack", "maybe"}, `--ack "maybe"`},
		{[]string{"--flush-interval", "-1s"}, "--flush-interval -1s"},
		{[]string{"--user-burst", "0"}, "--user-burst 0"},
		{[]string{"--max-matches", "0"}, "--max-matches 0: want a positive value"},
		{[]string{"--auto-matches", "20000"}, "--auto-matches 20000: want 0 to --max-matches (10000)"},
		{[]string{"--auto-matches", "-1"}, "--auto-matches -1"},
		{[]string{"--auto-match-idle", "0s"}, "--auto-match-idle 0s: want a positive value"},
		{[]string{"--auto-match-retention", "-1h"}, "--auto-match-retention -1h0m0s"},
		// Not off: it bound every interface on a random port.
		{[]string{"--ops", ""}, `--ops "": ingest always serves /metrics`},
	}
	onFreePorts := map[string][]string{ // whether the defaults are free or not (up may run)
		"up":     quietUp(t),
		"ingest": {"ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0"},
	}
	for _, cmd := range []string{"up", "ingest"} {
		for _, tt := range tests {
			t.Run(cmd+strings.Join(tt.args, " "), func(t *testing.T) {
				args := append(append(slices.Clone(onFreePorts[cmd]), "--kafka-brokers", "127.0.0.1:1"), tt.args...)
				if err := runCommand(t, nil, args...); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want %q", err, tt.want)
				}
			})
		}
	}
	others := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--partitions", "0"}, "--partitions 0"},
		// Past MaxPartitions: no int32 wrap-around (4294967298 ran 2
		// partitions), and no broker spending gigabytes on millions.
		{[]string{"up", "--partitions", "4294967298"}, "--partitions 4294967298: want 1 to 4096"},
		{[]string{"kafka", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--partitions", "4294967297"}, "--partitions 4294967297: want 1 to 4096"},
		{[]string{"bench", "--out", t.TempDir(), "--duration", "1s", "--partitions", "4294967296"}, "--partitions 4294967296: want 0 to 4096"},
		{[]string{"processor", "--swarm-threshold", "0"}, "--swarm-threshold 0"},
		{[]string{"processor", "--window", "0"}, "--window 0s"},
		{[]string{"processor", "--partition-wait", "0s"}, "--partition-wait 0s"},
		{[]string{"processor", "--partitions", "-1"}, "--partitions -1"},
		{[]string{"bridge", "--window", "0"}, "--window 0s"},
		{[]string{"bridge", "--dedup-memory", "0"}, "--dedup-memory 0"},
		{[]string{"bridge", "--dedup-memory", "64KiB"}, "--dedup-memory 64KiB"},
		{[]string{"bridge", "--dedup-memory", "1.5MiB"}, "--dedup-memory 1.5MiB: want a size from 1MiB to 16GiB, a whole number"},
		{[]string{"bridge", "--dedup-per-user", "70000"}, "--dedup-per-user 70000"},
		{[]string{"bridge", "--dedup-horizon", "10ms"}, "--dedup-horizon 10ms"},
		{[]string{"leaf", "--remote", "nats-leaf://127.0.0.1:1", "--max-connections", "0"}, "--max-connections 0"},
		{[]string{"kafka", "--partitions", "0"}, "--partitions 0"},
		{[]string{"up", "--nats-log", "loud"}, "--nats-log"},
		{[]string{"edge", "--listen", "127.0.0.1:0", "--ops", "", "--trusted-proxies", "10.0.0.0/33"}, `--trusted-proxies: trusted proxy "10.0.0.0/33"`},
	}
	for _, tt := range others {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if err := runCommand(t, nil, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	for _, args := range [][]string{{"viewers", "--help"}, {"match", "--help"}, {"ingest", "--help"}} {
		if out, err := runCLI(t, args...); err != nil && err.Error() != "flag: help requested" || !strings.Contains(out, "Usage") {
			t.Errorf("%v: %v, %q; want the usage and success", args, err, out)
		}
	}
}

// flagVars runs every command's (and mode's) --help and returns the
// environment variable of each flag, by "command flag".
func flagVars(t *testing.T) map[string]string {
	t.Helper()
	modes := map[string][]string{"match": {"create", "start", "end", "ls", "rm"}, "viewers": {"hold", "publish", "report"},
		"topic": {"describe", "create", "add-partitions"}}
	line := regexp.MustCompile(`(?m)^  --(\S+)  \[(\S+)\]$`)
	out := map[string]string{}
	for name, c := range commands {
		if c.hidden || name == "version" {
			continue
		}
		invocations := [][]string{{name}}
		if ms := modes[name]; ms != nil {
			invocations = nil
			for _, m := range ms {
				invocations = append(invocations, []string{name, m})
			}
		}
		for _, inv := range invocations {
			help, _ := runCLI(t, append(inv, "--help")...)
			ms := line.FindAllStringSubmatch(help, -1)
			if len(ms) == 0 {
				t.Fatalf("%v --help lists no flags:\n%s", inv, help)
			}
			for _, m := range ms {
				out[strings.Join(inv, " ")+" --"+m[1]] = m[2]
			}
		}
	}
	return out
}

// TestFlagEnvironmentVariables: one environment file can serve every
// stage. A flag's variable is EMOSTREAM_<COMMAND>_<FLAG>; two commands
// never share one (the modes of one command do: a flag means the same in
// each); none is a variable read directly (secrets, nats-server .conf
// variables) unless it means the same.
func TestFlagEnvironmentVariables(t *testing.T) {
	vars := flagVars(t)
	// Read directly, never a flag's: each may only back a flag that means
	// the same thing.
	direct := map[string]string{natsPasswordEnv: "", kafkaPasswordEnv: "", "EMOSTREAM_JWT_SECRET": "",
		"EMOSTREAM_ADMIN_TOKEN": "", "EMOSTREAM_TOKEN": "", "EMOSTREAM_LEAF_PASSWORD": "",
		"EMOSTREAM_LEAF_REMOTE":     "leaf --remote", // deploy/leaf-*.conf: the same hub URL with credentials
		"EMOSTREAM_INGEST_PASSWORD": "", "EMOSTREAM_BRIDGE_PASSWORD": "", "EMOSTREAM_PROCESSOR_PASSWORD": "",
		"EMOSTREAM_ADMIN_PASSWORD": "", "EMOSTREAM_EDGE_PASSWORD": "", "EMOSTREAM_MONITOR_PASSWORD": ""}
	byVar := map[string]string{}
	for cf, v := range vars {
		cmd, flagName, _ := strings.Cut(cf, " --")
		top, _, _ := strings.Cut(cmd, " ")
		if want := envName(cmd, flagName); v != want || !strings.HasPrefix(v, "EMOSTREAM_"+strings.ToUpper(top)+"_") {
			t.Errorf("%s: variable %s, want %s", cf, v, want)
		}
		if other, ok := byVar[v]; ok {
			if otherTop, _, _ := strings.Cut(other, " "); otherTop != top {
				t.Errorf("%s and %s share %s", cf, other, v)
			}
		}
		byVar[v] = cf
		if same, ok := direct[v]; ok && same != top+" --"+flagName {
			t.Errorf("%s: %s is read directly, with another meaning", cf, v)
		}
	}
	for cf, want := range map[string]string{"watch --ws": "EMOSTREAM_WATCH_WS", "up --ws": "EMOSTREAM_UP_WS",
		"leaf --ws": "EMOSTREAM_LEAF_WS", "watch --nats": "EMOSTREAM_WATCH_NATS", "ingest --listen": "EMOSTREAM_INGEST_LISTEN",
		"kafka --listen": "EMOSTREAM_KAFKA_LISTEN", "ceiling --listen": "EMOSTREAM_CEILING_LISTEN",
		"hub --c": "EMOSTREAM_HUB_CONFIG", "leaf --c": "EMOSTREAM_LEAF_CONFIG", "match create --nats": "EMOSTREAM_MATCH_NATS"} {
		if vars[cf] != want {
			t.Errorf("%s: variable %q in --help, want %s", cf, vars[cf], want)
		}
	}

	// The variable is read; the old shared one is not.
	err := runCommand(t, map[string]string{"EMOSTREAM_UP_SWARM_THRESHOLD": "0"}, "up")
	if err == nil || !strings.Contains(err.Error(), "--swarm-threshold 0") {
		t.Errorf("EMOSTREAM_UP_SWARM_THRESHOLD=0: got %v", err)
	}
	err = runCommand(t, map[string]string{"EMOSTREAM_SWARM_THRESHOLD": "x", "EMOSTREAM_INGEST_SWARM_THRESHOLD": "0"}, "up", "--partitions", "0")
	if err == nil || !strings.Contains(err.Error(), "--partitions 0") {
		t.Errorf("another command's and the old variable were read: got %v", err)
	}
}

// runUntil runs a long-running command until its output matches re, then
// stops it; it returns the first submatch.
func runUntil(t *testing.T, re *regexp.Regexp, args ...string) string {
	t.Helper()
	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, env, args) }()
	var got string
	testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("%v printing %s", args, re), func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%v: ended: %v\n%s", args, err, out.String())
		default:
		}
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			got = m[1]
		}
		return m != nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return got
}

// TestHubConfigFileOverride: with -c, a flag given overrides the file's
// value (here a client port that is taken), as with nats-server's own
// flags; --data-dir overrides the file's store_dir, the data landing in
// <data-dir>/jetstream.
func TestHubConfigFileOverride(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "hub.conf")
	taken := testenv.BusyAddr(t)
	if err := os.WriteFile(conf, []byte("listen: "+taken+"\njetstream {store_dir: \"store\"}\nleafnodes {listen: \"127.0.0.1:-1\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	data := t.TempDir()
	url := runUntil(t, regexp.MustCompile(`stages connect to (nats://\S+)`), "hub", "-c", conf, "--nats", "127.0.0.1:0", "--data-dir", data)
	if strings.Contains(url, taken) {
		t.Fatalf("--nats did not override the file's listen: %s", url)
	}
	if _, err := os.Stat(filepath.Join(data, "jetstream")); err != nil {
		t.Fatalf("--data-dir did not override store_dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "jetstream", "jetstream")); err == nil {
		t.Fatal("store nested twice")
	}
	if err := runCommand(t, nil, "hub", "-c", conf, "--leaf-password", "x"); err == nil || !strings.Contains(err.Error(), "--leaf-password with -c") {
		t.Fatalf("--leaf-password with -c: %v", err)
	}
}

// TestHubLeafPasswordKept: the flag form of hub keeps its leaf password in
// the data dir, mode 0600, so leaves reconnect after a restart; it prints
// where the password is, never the password.
func TestHubLeafPasswordKept(t *testing.T) {
	data := t.TempDir()
	re := regexp.MustCompile(`leaf clusters connect to (nats-leaf://\S+ as user leaf, the password in \S+):`)
	args := []string{"hub", "--data-dir", data, "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", ""}
	read := func() string {
		b, err := os.ReadFile(filepath.Join(data, leafPasswordFile))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	printed := runUntil(t, re, args...)
	first := read()
	runUntil(t, re, args...)
	if second := read(); first == "" || first != second {
		t.Fatalf("leaf password %q, then %q after a restart", first, second)
	}
	if !strings.HasSuffix(printed, filepath.Join(data, leafPasswordFile)) || strings.Contains(printed, first) {
		t.Errorf("printed %q: want where the password is, not the password", printed)
	}
	fi, err := os.Stat(filepath.Join(data, leafPasswordFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", leafPasswordFile, fi, err)
	}
	if _, err := os.Stat(filepath.Join(data, "jetstream", "jetstream")); err == nil {
		t.Fatal("JetStream store nested twice: data-dir/jetstream/jetstream")
	}
}

// TestBusyDefaultOpsIsWarning: a hot standby on the same host finds the
// default ops port taken and runs without it, warning; an address
// given explicitly must be free.
func TestBusyDefaultOpsIsWarning(t *testing.T) {
	addr := testenv.BusyAddr(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ln, err := bindOps(log, addr, addr, false)
	if err != nil || ln != nil || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), addr) {
		t.Fatalf("default taken: %v, %v, log %q; want a warning and no listener", ln, err, logs.String())
	}
	if _, err := bindOps(log, addr, addr, true); err == nil || !strings.Contains(err.Error(), "--ops "+addr) {
		t.Fatalf("explicit taken: %v, want an error naming --ops", err)
	}
	if _, err := bindOps(log, addr, "127.0.0.1:9", false); err == nil {
		t.Fatal("a taken address other than the default: no error")
	}
}
