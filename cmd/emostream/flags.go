package main

// Every subcommand declares its flags the same way. A struct holds the
// flags of one command (xFlags, in the command's file) or of one group
// several commands share (natsFlags, kafkaSecurityFlags, streamFlags,
// ingestFlags and processorFlags, which up adds too). addXFlags(fs, …)
// defines them, with defaults that are named constants; a parameter says
// how, never a patch after the fact (addIngestFlags(fs, env, ingestInUp)).
// A flag that sets one field of the library's Config binds to it (the
// struct's cfg); the others (lists, sizes, rates whose 0 means off) keep a
// field of their own.
// After parsing (parseFlags, or addLogFlags(fs).parse), the struct's config
// method checks the values, naming the flag at fault, and returns the
// library's Config; the run function binds listeners and starts the stage.
// What the library refuses names a Config field, which flagError turns
// into the flag that sets it (settingflags.go). Every flag falls back to
// its EMOSTREAM_<COMMAND>_<FLAG> variable (envName). A renamed flag keeps
// its old spelling, and its variable, as a deprecated alias (deprecate).
//
// A setting that can be off is turned off by its zero: false for a feature
// that is on by default (--moments=false), 0 for a number or a duration
// (--user-rate 0, --dedup-horizon 0), empty for an address (--ops "").

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// newFlags returns a flag set for a subcommand whose usage names the command
// and its environment fallbacks.
func newFlags(env *environment, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: emostream %s [flags]\n\n%s\n\nFlags (each also read from the environment variable shown):\n", name, synopsis)
		var old []string
		fs.VisitAll(func(f *flag.Flag) {
			if d, ok := f.Value.(*deprecated); ok {
				old = append(old, "--"+d.old+" (now "+d.spelling("--", d.now)+")")
				return
			}
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, envName(name, f.Name), f.Usage, def)
		})
		if len(old) > 0 {
			fmt.Fprintf(w, "\nDeprecated spellings, still accepted with a warning: %s.\n", strings.Join(old, ", "))
		}
	}
	return fs
}

// deprecated is the Value of the old spelling of a renamed flag: setting it
// sets the flag now (to the opposite, for a --no-… spelling of a boolean
// negate), and warns once on the flag set's output, naming now.
type deprecated struct {
	fs       *flag.FlagSet
	out      io.Writer // the flag set's output when defined: parseFlags silences fs while it parses
	old, now string
	negate   bool
	// env is the old spelling's variable while parseFlags sets it from
	// there; the warning then names the variables.
	env string
}

// deprecate defines old as a deprecated spelling of the flag now, defined
// before it: given on the command line or through its variable, it sets
// now and warns.
func deprecate(fs *flag.FlagSet, old, now string) {
	fs.Var(&deprecated{fs: fs, out: fs.Output(), old: old, now: now}, old, "deprecated: use --"+now)
}

// deprecateNegation defines old as a deprecated boolean whose true turns
// the boolean flag now off: --no-moments for --moments=false.
func deprecateNegation(fs *flag.FlagSet, old, now string) {
	fs.Var(&deprecated{fs: fs, out: fs.Output(), old: old, now: now, negate: true}, old, "deprecated: use --"+now+"=false")
}

func (d *deprecated) String() string { return "" }

// IsBoolFlag lets a --no-… spelling stand alone, as booleans do.
func (d *deprecated) IsBoolFlag() bool { return d.negate }

func (d *deprecated) Set(v string) error {
	if d.negate {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		v = strconv.FormatBool(!b)
	}
	if err := d.fs.Set(d.now, v); err != nil {
		return err
	}
	if d.env != "" {
		fmt.Fprintf(d.out, "emostream: %s is deprecated: use %s\n", d.env, d.spelling("", envName(d.fs.Name(), d.now)))
	} else {
		fmt.Fprintf(d.out, "emostream: --%s is deprecated: use %s\n", d.old, d.spelling("--", d.now))
	}
	return nil
}

// spelling is the new spelling of the setting, name after prefix, as the
// warning and the help show it: with =false for a negation.
func (d *deprecated) spelling(prefix, name string) string {
	if d.negate {
		return prefix + name + "=false"
	}
	return prefix + name
}

// envName is the environment variable that backs a flag of a command:
// EMOSTREAM_<COMMAND>_<FLAG>, e.g. EMOSTREAM_INGEST_LISTEN for "ingest
// --listen"; -c (a configuration file) is CONFIG: EMOSTREAM_HUB_CONFIG. The
// modes of one command
// ("match create", "viewers hold") share its prefix: a flag name means the
// same in each. So one environment file can serve several stages: no two
// commands read one variable.
func envName(command, flagName string) string {
	if c, _, ok := strings.Cut(command, " "); ok {
		command = c
	}
	if flagName == "c" {
		flagName = "config"
	}
	up := func(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
	return "EMOSTREAM_" + up(command) + "_" + up(flagName)
}

// parseFlags parses args, then fills every flag not given on the command line
// from its EMOSTREAM_<COMMAND>_<FLAG> environment variable (envName); a flag
// filled so counts as given (fs.Visit). The variable of a deprecated
// spelling counts last, where neither the flag nor its own variable was
// given. Positional arguments are refused. A flag that does not parse is
// a FlagParseError, one line with a hint, never the whole usage; --help
// prints the usage.
func parseFlags(fs *flag.FlagSet, env *environment, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package would print the error and the usage
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return &FlagParseError{Command: fs.Name(), Err: err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags only; see --help)", fs.Name(), fs.Arg(0))
	}
	if err := fillFromEnv(fs, env, false); err != nil {
		return err
	}
	return fillFromEnv(fs, env, true)
}

// fillFromEnv sets the flags of fs not given yet from their variables:
// the deprecated spellings (old), or the others.
func fillFromEnv(fs *flag.FlagSet, env *environment, old bool) error {
	set := given(fs)
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		d, isOld := f.Value.(*deprecated)
		if isOld != old || set[f.Name] || isOld && set[d.now] || err != nil {
			return
		}
		name := envName(fs.Name(), f.Name)
		v := env.getenv(name)
		if v == "" {
			return
		}
		if isOld {
			d.env = name
			defer func() { d.env = "" }()
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, e)
		}
	})
	return err
}

// FlagParseError is a command line the flag package refused: an unknown
// flag, a missing or malformed value. main prints it as one line,
// "emostream ingest: flag provided but not defined: -x (see emostream
// ingest --help)", and exits 2.
type FlagParseError struct {
	Command string
	Err     error
}

func (e *FlagParseError) Error() string {
	return fmt.Sprintf("%s: %v (see emostream %s --help)", e.Command, e.Err, e.Command)
}

func (e *FlagParseError) Unwrap() error { return e.Err }

// parseLogged makes the flag set of a command that logs, adds its flags
// (add) and the log flags, parses args and builds the logger.
func parseLogged[F any](env *environment, name, synopsis string, args []string, add func(*flag.FlagSet) F) (*flag.FlagSet, F, *slog.Logger, error) {
	fs := newFlags(env, name, synopsis)
	f := add(fs)
	log, err := addLogFlags(fs).parse(fs, env, args)
	return fs, f, log, err
}

// Defaults of --log-level and --log-format.
const (
	defaultLogLevel  = "info"
	defaultLogFormat = "text"
)

// logFlags are --log-level and --log-format, of every command that logs.
type logFlags struct{ level, format string }

func addLogFlags(fs *flag.FlagSet) *logFlags {
	f := &logFlags{}
	fs.StringVar(&f.level, "log-level", defaultLogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&f.format, "log-format", defaultLogFormat, "log format: text or json")
	return f
}

// parse parses args (parseFlags), once every other flag of fs is defined,
// and builds the logger the log flags describe.
func (f *logFlags) parse(fs *flag.FlagSet, env *environment, args []string) (*slog.Logger, error) {
	if err := parseFlags(fs, env, args); err != nil {
		return nil, err
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(f.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch f.format {
	case "text":
		return slog.New(slog.NewTextHandler(env.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(env.stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", f.format)
}

// defaultReplicas and maxReplicas bound --replicas: JetStream's largest
// replica count is 5.
const (
	defaultReplicas = 1
	maxReplicas     = 5
)

// streamFlags are the JetStream stream settings that every stage creating
// the streams (bridge, processor, up) must agree on.
type streamFlags struct {
	dedup, swarmRetention time.Duration
	replicas              int
}

func addStreamFlags(fs *flag.FlagSet) *streamFlags {
	f := &streamFlags{}
	fs.DurationVar(&f.dedup, "stream-dedup-window", streams.DefaultDuplicates, "JetStream Nats-Msg-Id dedup window of the streams (recovery never relies on it)")
	fs.DurationVar(&f.swarmRetention, "swarm-retention", streams.DefaultSwarmRetention, "how long a match's swarms stay stored after its last window")
	return f
}

// addReplicas adds --replicas, for the stages that may run on a hub
// cluster (bridge, processor; emostream up runs one hub).
func (f *streamFlags) addReplicas(fs *flag.FlagSet) {
	fs.IntVar(&f.replicas, "replicas", defaultReplicas, replicasUsage("the streams "+wire.PartialsStream+" and "+wire.SwarmsStream))
}

// replicasUsage is the help of a --replicas flag for what.
func replicasUsage(what string) string {
	return "replicas of " + what + ": 1 on a single hub, 3 on a 3-member hub cluster (deploy/hub-1.conf); an existing one is scaled to it"
}

func (f *streamFlags) config() (streams.Config, error) {
	if f.replicas < 0 || f.replicas > maxReplicas {
		return streams.Config{}, fmt.Errorf("--replicas %d: want 1 to %d", f.replicas, maxReplicas)
	}
	if f.dedup < 0 || f.swarmRetention < 0 || f.swarmRetention > 0 && f.swarmRetention < f.dedup {
		return streams.Config{}, fmt.Errorf("--swarm-retention %v and --stream-dedup-window %v: want positive, retention at least the dedup window", f.swarmRetention, f.dedup)
	}
	return streams.Config{Duplicates: f.dedup, SwarmRetention: f.swarmRetention, Replicas: f.replicas}, nil
}

// given reports the flags set on the command line or from the environment.
func given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// override sets *dst to v if flagName was given (set): with a -c file, a
// flag given overrides the file's value, as nats-server's own flags do.
func override[T any](set map[string]bool, flagName string, dst *T, v T) {
	if set[flagName] {
		*dst = v
	}
}

// checkPositive refuses a zero or negative value of the named numeric or
// duration flags. Library configs read zero as "the default"; on the
// command line an explicit 0 for a positive quantity is a mistake, never a
// silent default. Flags where 0 means "off" are not named here.
func checkPositive(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("emostream: checkPositive: no flag --" + n)
		}
		positive := sign(f.Value.(flag.Getter).Get()) > 0
		if !positive {
			return fmt.Errorf("--%s %s: want a positive value", n, f.Value)
		}
	}
	return nil
}

// zeroIsOff is the library value of a flag whose 0 turns its setting off
// (what says how): the library's negative. A negative value, the old
// spelling of off, still works, with a warning.
func zeroIsOff[T int | time.Duration](env *environment, flagName string, v T, what string) T {
	if v < 0 {
		fmt.Fprintf(env.stderr, "emostream: --%s %v: a negative value is deprecated: 0 %s\n", flagName, v, what)
	}
	if v <= 0 {
		return -1
	}
	return v
}

// checkPartitions refuses a --partitions of an embedded broker's topic
// below least or above kafkaconn.MaxPartitions, before it becomes the
// library's int32: 4294967298 wrapped to 2, and 99999999 had the broker
// spend gigabytes, deaf to Ctrl-C, creating them.
func checkPartitions(n, least int) error {
	if n < least || n > kafkaconn.MaxPartitions {
		return fmt.Errorf("--partitions %d: want %d to %d", n, least, kafkaconn.MaxPartitions)
	}
	return nil
}

// checkNotNegative refuses a negative value of the named flags, whose 0
// means "off" (or "the default", as their usage says).
func checkNotNegative(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("emostream: checkNotNegative: no flag --" + n)
		}
		if strings.HasPrefix(f.Value.String(), "-") {
			return fmt.Errorf("--%s %s: want 0 or more", n, f.Value)
		}
	}
	return nil
}

// listenTCP binds every address the commands listen on or check, so that
// the package's tests can refuse the default ports (TestMain): a test on
// a default port fails while "emostream up" runs on this machine.
var listenTCP = func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// checkFree tells in one line which flag names a listen address that is
// taken, before any server starts: e.g. "--monitor 127.0.0.1:8222: address
// already in use". Empty addresses and port 0 always pass.
func checkFree(flagName string, addrs ...string) error {
	for _, a := range addrs {
		if a == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("--%s %q: want host:port: %w", flagName, a, err)
		} else if port == "0" {
			continue
		}
		ln, err := listenTCP(a)
		if err != nil {
			return listenError(flagName, a, err)
		}
		ln.Close()
	}
	return nil
}

// flagAddr is a listen address and the flag that names it.
type flagAddr struct{ flag, addr string }

// checkFreeGiven runs checkFree on each address; with a -c file (fromFile),
// only on those whose flag was given (set): the others are the file's, and
// nats-server names one that is taken.
func checkFreeGiven(fromFile bool, set map[string]bool, addrs []flagAddr) error {
	for _, a := range addrs {
		if fromFile && !set[a.flag] {
			continue
		}
		if err := checkFree(a.flag, a.addr); err != nil {
			return err
		}
	}
	return nil
}

// checkDistinct refuses an address that two of a command's listeners
// would share (port 0 aside), naming both flags: the second bind would
// fail as if another process held it. A flag's value may be a list (--ws).
func checkDistinct(addrs []flagAddr) error {
	seen := map[string]string{}
	for _, a := range addrs {
		for _, addr := range splitList(a.addr) {
			if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
				continue // checkFree names a malformed address
			}
			if other, dup := seen[addr]; dup {
				return fmt.Errorf("--%s %s: --%s listens there too: give each listener its own address", a.flag, addr, other)
			}
			seen[addr] = a.flag
		}
	}
	return nil
}

// listenError names the flag and the address of a failed listen.
func listenError(flagName, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--%s %s: address already in use (another process listens there: stop it or give --%s another address)", flagName, addr, flagName)
	}
	return fmt.Errorf("--%s %s: %w", flagName, addr, err)
}

// listenFlag binds a flag's address, naming the flag in the error.
func listenFlag(flagName, addr string) (net.Listener, error) {
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, listenError(flagName, addr, err)
	}
	return ln, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// sign is -1, 0 or 1 for a negative, zero or positive number.
func sign(v any) int {
	var f float64
	switch n := v.(type) {
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case float64:
		f = n
	case time.Duration:
		f = float64(n)
	default:
		panic(fmt.Sprintf("emostream: sign of %T", v))
	}
	switch {
	case f < 0:
		return -1
	case f > 0:
		return 1
	}
	return 0
}

// parseBytes reads 512MiB, 2GiB, 100MB or a plain byte count: a whole
// number of the unit (1536KiB, not 1.5MiB).
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n <= 0 || n > math.MaxInt64/u.mult {
				return 0, fmt.Errorf("bad size %q (want a positive whole count of the unit below 8 EiB: 1536KiB, not 1.5MiB)", s)
			}
			return n * u.mult, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 1GiB)", s)
	}
	return n, nil
}
