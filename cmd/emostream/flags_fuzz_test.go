package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/bridge"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/hostcheck"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/processor"
)

// The command line's parsers, fuzzed: the flags of ingest (and up), of
// the bridge and processor, of topic create and of plan, given as
// arguments and as EMOSTREAM_… variables, and the size, duration and
// address values in them. Whatever the input, parsing never panics, a
// refusal names the flag or variable at fault, and what the checks let
// through the stage's New accepts (or refuses with its ErrConfig, never
// otherwise).

// fuzzArgs splits the fuzzer's arguments (one per line) and its
// environment ("NAME=value" lines). A "/" becomes "_": no argument may
// name a file outside the package (a fuzzed --kafka-ca /dev/zero would
// read forever).
func fuzzArgs(args, env string) ([]string, *environment) {
	args, env = strings.ReplaceAll(args, "/", "_"), strings.ReplaceAll(env, "/", "_")
	vars := map[string]string{}
	for _, l := range strings.Split(env, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			vars[k] = v
		}
	}
	var list []string
	if args != "" {
		list = strings.Split(args, "\n")
	}
	return list, &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		getenv: func(k string) string { return vars[k] }}
}

// namesFlag fails unless err names a flag or a variable.
func namesFlag(t *testing.T, err error) {
	t.Helper()
	if s := err.Error(); !strings.Contains(s, "-") && !strings.Contains(s, "EMOSTREAM_") {
		t.Fatalf("error names no flag: %v", err)
	}
}

func addFlagSeeds(f *testing.F, cmd string) {
	for _, s := range [][2]string{
		{"", ""},
		{"--window\n2s\n--flush-interval\n500ms", ""},
		{"--window=9223372036854775807ns", ""},
		{"--window=-2s\n--body-limit=-1", ""},
		{"--user-rate=1.5e308\n--ip-rate=NaN", ""},
		{"--user-rate=-Inf\n--ip-burst=9223372036854775807", ""},
		{"--max-conns=0\n--fd-reserve=-9223372036854775808", ""},
		{"--ops-host=metrics.internal,10.0.0.5\n--ops-listen=127.0.0.1:0", ""},
		{"--ops-host=http:__x:9100", ""},
		{"--emojis=🔥,a\n--ws-urls=ws:__[::1]:9222", ""},
		{"--trusted-proxies=10.0.0.0_8,::1_200", ""},
		{"--dedup-horizon=0s\n--close-delay=1.5ms", ""},
		{"--moment-factor=0.5\n--moment-share=1e-300\n--moment-cooldown=-1ns", ""},
		{"--replicas=6\n--stream-dedup-window=2562047h47m16.854775807s", ""},
		{"--metrics-host=,,\n--metrics=:0", ""},
		{"positional", ""},
		{"--help", ""},
		{"", "EMOSTREAM_" + strings.ToUpper(cmd) + "_WINDOW=1h1ns"},
		{"", "EMOSTREAM_" + strings.ToUpper(cmd) + "_BODY_LIMIT=0x10"},
		{"", "EMOSTREAM_" + strings.ToUpper(cmd) + "_OPS_HOST=a b"},
		{"--window", "EMOSTREAM_ADMIN_TOKEN=" + strings.Repeat("x", 70_000)},
	} {
		f.Add(s[0], s[1])
	}
}

// FuzzIngestFlags parses the flags of "emostream ingest".
func FuzzIngestFlags(f *testing.F) {
	addFlagSeeds(f, "ingest")
	ln, err := net.Listen("tcp", "127.0.0.1:0") // New's listeners: bound once, never served
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, args, envText string) {
		list, env := fuzzArgs(args, envText)
		fs := newFlags(env, "ingest", ingestSynopsis)
		fl := addIngestFlags(fs, env, ingestAlone)
		if _, err := addLogFlags(fs).parse(fs, env, list); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				namesFlag(t, err)
			}
			return
		}
		cfg, _, err := fl.config(fs, env, 0)
		if err == nil {
			_, err = fl.registry.nats.natsOptions(env)
		}
		if err != nil {
			namesFlag(t, err)
			return
		}
		cfg.Listener, cfg.OpsListener, cfg.Registerer = ln, ln, prometheus.NewRegistry()
		if _, err := ingest.New(cfg); err != nil && !errors.Is(err, ingest.ErrConfig) {
			t.Fatalf("flags %q: ingest.New: %v, not an ErrConfig", list, err)
		}
	})
}

// FuzzStageFlags parses the flags of "emostream bridge" with the
// processor's moment flags and a stage's --ops flags.
func FuzzStageFlags(f *testing.F) {
	addFlagSeeds(f, "bridge")
	f.Fuzz(func(t *testing.T, args, envText string) {
		list, env := fuzzArgs(args, envText)
		fs := newFlags(env, "bridge", bridgeSynopsis)
		bf, pf := addBridgeFlags(fs), addProcessorFlags(fs, false)
		mf := bf.ops
		if _, err := addLogFlags(fs).parse(fs, env, list); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				namesFlag(t, err)
			}
			return
		}
		if _, err := hostcheck.ParseNames(mf.hosts); err != nil {
			return
		}
		checkBridge(t, fs, env, bf)
		pc, err := pf.config(fs, env)
		if err != nil {
			namesFlag(t, err)
			return
		}
		pc.NATSURL, pc.Partitions, pc.Registerer = "nats://127.0.0.1:1", 4, prometheus.NewRegistry()
		if _, err := processor.New(pc); err != nil && !errors.Is(err, processor.ErrConfig) {
			t.Fatalf("flags %q: processor.New: %v, not an ErrConfig", list, err)
		}
	})
}

func checkBridge(t *testing.T, fs *flag.FlagSet, env *environment, bf *bridgeFlags) {
	t.Helper()
	cfg, err := bf.config(fs, env)
	if err != nil {
		namesFlag(t, err)
		return
	}
	cfg.Registerer = prometheus.NewRegistry()
	if _, err := bridge.New(cfg); err != nil && !errors.Is(err, bridge.ErrConfig) {
		t.Fatalf("bridge.New: %v, not an ErrConfig", err)
	}
}

// FuzzParseBytes reads a size (--memory-limit): a positive count, the same
// as its plain byte count.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"512MiB", "2GiB", "100MB", "1", "0", "-1GiB", "9223372036854775807", "8589934592GiB",
		"1.5GiB", "GiB", "", " 1MiB", "1e3KB", "0x10B", strings.Repeat("9", 400) + "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("parseBytes(%q) = %d", s, n)
		}
		if m, err := parseBytes(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("parseBytes(%q) = %d, but its count reads %d, %v", s, n, m, err)
		}
	})
}

// FuzzTopicFlags parses the flags of "emostream topic create": whatever
// they are, the command refuses them naming a flag or a variable, or
// builds a topic within kafkaconn's bounds.
func FuzzTopicFlags(f *testing.F) {
	addFlagSeeds(f, "topic")
	for _, s := range []string{"--partitions\n0", "--partitions\n4097", "--partitions=-1", "--replication-factor\n8",
		"--topic\n..", "--topic\n" + strings.Repeat("t", 250), "--config\n=x", "--config\nmin.insync.replicas=2,a=b=c",
		"--partitions\n9223372036854775807"} {
		f.Add(s, "")
	}
	f.Add("", "EMOSTREAM_TOPIC_PARTITIONS=99999\nEMOSTREAM_TOPIC_TOPIC=a b")
	f.Fuzz(func(t *testing.T, args, envText string) {
		list, env := fuzzArgs(args, envText)
		fs := newFlags(env, "topic create", topicSynopsis)
		fl, _ := addTopicFlags(fs, "create")
		if err := parseFlags(fs, env, list); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				namesFlag(t, err)
			}
			return
		}
		spec, err := fl.spec()
		if err == nil {
			err = flagError(spec.Validate(), topicSettings)
		}
		if err != nil {
			namesFlag(t, err)
			return
		}
		if spec.Partitions < 1 || spec.Partitions > kafkaconn.MaxPartitions || spec.ReplicationFactor < 1 || spec.Name == "" {
			t.Fatalf("flags %q: accepted %+v", list, spec)
		}
	})
}

// FuzzPlanFlags runs "emostream plan" on any flags and EMOSTREAM_PLAN_…
// variables: it refuses them naming a flag or a variable, or prints a
// plan with no NaN or infinity in it, at a bounded cost (the costliest
// load in bounds plans in well under a second, capacity's
// TestPlanCostIsBounded).
func FuzzPlanFlags(f *testing.F) {
	for _, s := range []string{"", "--viewers\n1.5", "--viewers=9999999999.5", "--viewers\nNaN", "--viewers\n-0",
		"--viewers\n1e300", "--viewers\n9e18", "--reactions\n0.5\n--viewers\n10", "--regions\n9223372036854775807",
		"--regions\n1000\n--viewers\n1000\n--reactions\n0", "--batch\n1.5\n--steps\n0", "--steps\n-1", "--viewers\n 10",
		"--viewers\n1e10\n--reactions\n1e9\n--regions\n1\n--matches\n10000\n--video-spread\n60s\n--steps\n6",
		"--check\nplan.go", "--help"} {
		f.Add(s, "")
	}
	f.Add("", "EMOSTREAM_PLAN_VIEWERS=1.5\nEMOSTREAM_PLAN_REGIONS=-0")
	f.Fuzz(func(t *testing.T, args, envText string) {
		list, env := fuzzArgs(args, envText)
		var out strings.Builder
		env.stdout = &out
		if err := runPlan(context.Background(), env, list); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				namesFlag(t, err)
			}
			return
		}
		s := out.String()
		if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
			t.Fatalf("flags %q: printed\n%s", list, s)
		}
		fs := newFlags(env, "plan", planSynopsis)
		pf := addPlanFlags(fs)
		if parseFlags(fs, env, list) != nil || pf.check != "" {
			return
		}
		// The plan is of the load asked for, not of one rounded.
		var viewers, reactions string
		fmt.Sscanf(strings.ReplaceAll(s, ",", ""), "Plan for %s viewers and %s reactions/s", &viewers, &reactions)
		if viewers != strconv.FormatFloat(pf.load.Viewers, 'f', -1, 64) || reactions != strconv.FormatFloat(pf.load.Reactions, 'f', -1, 64) {
			t.Fatalf("flags %q: --viewers %v --reactions %v planned as %s and %s", list, pf.load.Viewers, pf.load.Reactions, viewers, reactions)
		}
	})
}
