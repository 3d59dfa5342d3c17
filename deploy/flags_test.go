package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emostream/emostream/internal/testenv"
)

// binary is the emostream binary TestMain builds for this run.
var binary string

func TestMain(m *testing.M) {
	var cleanup func()
	var err error
	if binary, cleanup, err = testenv.BuildBinary("deploy"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// helpFlag matches a flag line of `emostream <command> --help`.
var helpFlag = regexp.MustCompile(`(?m)^\s+--?([a-z0-9][a-z0-9-]*)\b`)

var (
	flagsMu    sync.Mutex
	flagsCache = map[string]map[string]bool{}
)

// commandFlags returns the flag names command defines, read from the help
// of the built binary.
func commandFlags(t *testing.T, command string) map[string]bool {
	t.Helper()
	flagsMu.Lock()
	defer flagsMu.Unlock()
	if f, ok := flagsCache[command]; ok {
		return f
	}
	out, err := exec.Command(binary, append(strings.Fields(command), "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("emostream %s --help: %v\n%s", command, err, out)
	}
	f := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		f[m[1]] = true
	}
	if len(f) == 0 {
		t.Fatalf("emostream %s --help lists no flags:\n%s", command, out)
	}
	flagsCache[command] = f
	return f
}

// parseArgs checks that args are an emostream command (and its mode, as in
// "match ls") followed by flags it defines, each written -name=value or
// --name=value (unambiguous without knowing which flags are boolean), and
// returns the command and its flags.
func parseArgs(t *testing.T, args []string) (string, map[string]string, error) {
	t.Helper()
	if len(args) == 0 {
		return "", nil, errors.New("no emostream command")
	}
	command, rest := args[0], args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		command, rest = command+" "+rest[0], rest[1:]
	}
	defined := commandFlags(t, command)
	flags := map[string]string{}
	var errs []error
	for _, a := range rest {
		name, value, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		_, seen := flags[name]
		switch {
		case !strings.HasPrefix(a, "-") || !ok:
			errs = append(errs, fmt.Errorf("argument %q: want -name=value", a))
		case !defined[name]:
			errs = append(errs, fmt.Errorf("emostream %s has no flag --%s", command, name))
		case seen:
			errs = append(errs, fmt.Errorf("--%s given twice", name))
		default:
			flags[name] = value
		}
	}
	return command, flags, errors.Join(errs...)
}

// TestParseArgs: the check refuses what the binary would refuse or misread.
func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"ingest", "--listen=0.0.0.0:8080", "--nats-user=ingest"}, true},
		{[]string{"hub", "-c=/etc/emostream/nats.conf"}, true},
		{[]string{"ingest", "--no-such-flag=1"}, false},
		{[]string{"ingest", "--listen", "0.0.0.0:8080"}, false},
		{[]string{"bridge", "--ops-listen=127.0.0.1:9100"}, false},
		{[]string{"ingest", "--listen=a", "--listen=b"}, false},
		{[]string{"match", "ls", "--nats-user=admin"}, true},
		{[]string{"match", "ls", "--id=x", "stray"}, false},
	} {
		_, _, err := parseArgs(t, tc.args)
		if got := err == nil; got != tc.ok {
			t.Errorf("parseArgs(%q): error %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
