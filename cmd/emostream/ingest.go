package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{
		name:    "ingest",
		summary: "HTTP emoji API: validates reactions and writes them to Kafka",
		run:     runIngest,
	})
}

const ingestSynopsis = `Serves POST /v1/emojis, GET /v1/emoji-types, /v1/config, /v1/matches,
/healthz, /readyz and the web client on --listen, and /metrics, health and,
with an admin token, the admin API (/v1/admin/matches) on --ops; with
--auth=jwt (the default off loopback) a reaction needs a bearer token whose
subject is its user. It writes every accepted event to the Kafka
topic (key user_id, timestamp = receive time). Reactions are taken only for
live matches of the match registry on the NATS hub (--nats). See docs/api.md.`

// ingestFlags are the flags of "emostream ingest"; "emostream up" adds
// the ones it shares (ingestInUp). Most bind to the fields of cfg they set.
type ingestFlags struct {
	cfg                                   ingest.Config
	brokers, ack, emojis, proxies, wsURLs string
	userRate, ipRate                      float64
	maxConnections, maxPerNetwork         int
	kafka                                 *kafkaSecurityFlags
	admission                             *admissionFlags
	security                              *securityFlags
	// Ingest alone: the API's address and the hub holding the registry
	// (up has --http, and runs the hub).
	listen   string
	registry *registryFlags
}

// ingestSetup says which of ingest's flags a command adds, and how.
type ingestSetup struct {
	// alone adds --listen and the registry's --nats flags (and --ops-listen,
	// the old spelling of --ops).
	alone bool
	// brokers and brokersUsage are --kafka-brokers' default and help.
	brokers, brokersUsage string
}

var (
	ingestAlone = ingestSetup{alone: true, brokers: ingest.DefaultBroker, brokersUsage: "Kafka bootstrap brokers, host:port,..."}
	ingestInUp  = ingestSetup{brokers: "", brokersUsage: "external Kafka bootstrap brokers, host:port,...; empty runs the embedded broker on --kafka"}
)

func addIngestFlags(fs *flag.FlagSet, env *environment, set ingestSetup) *ingestFlags {
	f := &ingestFlags{}
	c := &f.cfg
	fs.StringVar(&f.brokers, "kafka-brokers", set.brokers, set.brokersUsage)
	f.kafka = addKafkaSecurityFlags(fs)
	fs.StringVar(&c.Topic, "topic", wire.DefaultTopic, "Kafka topic of accepted events")
	fs.StringVar(&f.ack, "ack", string(ingest.AckAll), "answer 202 when Kafka acknowledged (all) or when buffered (buffered)")
	fs.DurationVar(&c.FlushInterval, "flush-interval", wire.DefaultFlushInterval, "longest an accepted event waits in the producer buffer")
	addProducerFlags(fs, c)
	fs.DurationVar(&c.Window, "window", wire.DefaultWindow, "counting window length")
	fs.StringVar(&f.emojis, "emojis", strings.Join(wire.DefaultEmojis, ","), "allowed emojis, comma-separated")
	f.addLimits(fs)
	fs.StringVar(&f.wsURLs, "ws-urls", "", "NATS WebSocket URLs the web client connects to, comma-separated")
	fs.Int64Var(&c.SwarmThreshold, "swarm-threshold", wire.DefaultSwarmThreshold, "identical emojis per swarm unit (shown by the web client)")
	f.admission = addAdmissionFlags(fs)
	f.security = addSecurityFlags(fs)
	if set.alone {
		deprecate(fs, "ops-listen", "ops")
		fs.StringVar(&f.listen, "listen", ingest.DefaultListen, "address of the HTTP API")
		f.registry = addRegistryFlags(fs, env)
	}
	return f
}

// addLimits adds the flags of ingest's rate limits, body limit,
// connection caps and timeouts.
func (f *ingestFlags) addLimits(fs *flag.FlagSet) {
	c := &f.cfg
	fs.Float64Var(&f.userRate, "user-rate", ingest.DefaultUserRate, "events/s allowed per user_id (0 disables the limit)")
	fs.IntVar(&c.UserBurst, "user-burst", ingest.DefaultUserBurst, "per-user burst, events: the most of one user one request may hold")
	fs.Float64Var(&f.ipRate, "ip-rate", ingest.DefaultIPRate, "events/s allowed per client network, see --ip-prefix-v4 (0 disables the limit)")
	fs.IntVar(&c.IPBurst, "ip-burst", ingest.DefaultIPBurst, "per-IP burst, events: the most one request may hold")
	fs.StringVar(&f.proxies, "trusted-proxies", "", "CIDRs of proxies whose X-Forwarded-For is believed, comma-separated")
	fs.IntVar(&c.BodyLimit, "body-limit", ingest.DefaultBodyLimit, "largest request body, bytes, as sent and once inflated")
	fs.BoolVar(&c.AcceptGzip, "accept-gzip", false, "accept Content-Encoding: gzip bodies, inflated to at most --body-limit (otherwise 415)")
	fs.IntVar(&c.IPPrefixV4, "ip-prefix-v4", ingest.DefaultIPPrefixV4, "IPv4 prefix length that makes one client network for the per-IP limit and --max-per-network")
	fs.IntVar(&c.IPPrefixV6, "ip-prefix-v6", ingest.DefaultIPPrefixV6, "IPv6 prefix length that makes one client network")
	fs.IntVar(&f.maxConnections, "max-connections", 0, fmt.Sprintf("most open HTTP connections; 0 means %d or the open-file limit less --fd-reserve, if lower (in up: half of that, if up's edges need the rest)", ingest.DefaultMaxConnections))
	deprecate(fs, "max-conns", "max-connections")
	fs.IntVar(&f.maxPerNetwork, "max-per-network", ingest.DefaultMaxPerNetwork, "most open HTTP connections from one client network, or --max-connections if lower, never above it; past 3/4 of --max-connections a network gets more only below its share, total / (networks + 1); trusted proxies exempt (0 disables both)")
	deprecate(fs, "max-conns-per-prefix", "max-per-network")
	fs.IntVar(&c.FDReserve, "fd-reserve", ingest.DefaultFDReserve, "file descriptors a default --max-connections leaves to Kafka, NATS and listeners")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", ingest.DefaultReadTimeout, "a new connection's first request, and every request, must arrive whole within this")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", ingest.DefaultWriteTimeout, "longest time to write a response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", ingest.DefaultIdleTimeout, "keep-alive connections idle this long are closed")
}

// config checks the flags and turns them into ingest's Config, short of
// its listeners, and the registry's bounds. Its connection caps add up at
// the open-file limit with edges viewer edges in the same process (up).
func (f *ingestFlags) config(fs *flag.FlagSet, env *environment, edges int) (ingest.Config, registry.Config, error) {
	var rc registry.Config
	cfg, err := f.serverConfig(fs, env.files, edges)
	if err != nil {
		return cfg, rc, err
	}
	if cfg.KafkaSecurity, err = f.kafka.security(env); err != nil {
		return cfg, rc, err
	}
	if err := f.admission.apply(env, &rc, &cfg.AdminToken); err != nil {
		return cfg, rc, err
	}
	if err := f.security.apply(env, &cfg); err != nil {
		return cfg, rc, fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return cfg, rc, nil
}

// serverConfig checks the flags of fs and turns them into an
// ingest.Config; 0 rates disable a limit. Its connection caps add up at the
// open-file limit files, shared with edges viewer edges in the same
// process (up).
func (f *ingestFlags) serverConfig(fs *flag.FlagSet, files fileLimit, edges int) (ingest.Config, error) {
	if err := f.check(); err != nil {
		return ingest.Config{}, err
	}
	proxies, err := ingest.ParseCIDRs(f.proxies)
	if err != nil {
		return ingest.Config{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	cfg := f.cfg
	maxConnections, why := ingestConns(files, f.maxConnections, cfg.FDReserve, edges)
	perNetwork, err := perNetwork(fs, "max-connections", "max-per-network", maxConnections, f.maxPerNetwork, -1, why)
	if err != nil {
		return ingest.Config{}, err
	}
	cfg.KafkaBrokers, cfg.Ack, cfg.Emojis = splitList(f.brokers), ingest.AckMode(f.ack), splitList(f.emojis)
	cfg.UserRate, cfg.IPRate = disabledIfZero(f.userRate), disabledIfZero(f.ipRate)
	cfg.TrustedProxies, cfg.WebSocketURLs, cfg.MaxConnections, cfg.MaxPerNetwork = proxies, splitList(f.wsURLs), maxConnections, perNetwork
	return cfg, nil
}

// check refuses what ingest.Config would take as a default or refuse only
// once the servers run: an explicit 0 for a positive quantity, a negative
// rate, a word where an emoji or a URL belongs. 0 means "off" only for
// --user-rate, --ip-rate and --max-per-network, and "the default" for
// --max-connections. The rest, ingest.Config.Validate refuses.
func (f *ingestFlags) check() error {
	if f.ack != string(ingest.AckAll) && f.ack != string(ingest.AckBuffered) {
		return fmt.Errorf("--ack %q: want %s or %s", f.ack, ingest.AckAll, ingest.AckBuffered)
	}
	cfg := f.cfg
	type value struct {
		name string
		v    any // an int, int64, float64 or time.Duration
	}
	for _, c := range []value{{"window", cfg.Window}, {"flush-interval", cfg.FlushInterval}, {"swarm-threshold", cfg.SwarmThreshold},
		{"user-burst", cfg.UserBurst}, {"ip-burst", cfg.IPBurst}, {"body-limit", cfg.BodyLimit},
		{"read-timeout", cfg.ReadTimeout}, {"write-timeout", cfg.WriteTimeout}, {"idle-timeout", cfg.IdleTimeout}} {
		if sign(c.v) <= 0 {
			return fmt.Errorf("--%s %v: want a positive value", c.name, c.v)
		}
	}
	for _, c := range []value{{"user-rate", f.userRate}, {"ip-rate", f.ipRate}, {"max-connections", f.maxConnections},
		{"max-per-network", f.maxPerNetwork}, {"fd-reserve", cfg.FDReserve}} {
		if sign(c.v) < 0 {
			return fmt.Errorf("--%s %v: want 0 (off) or more", c.name, c.v)
		}
	}
	for _, e := range splitList(f.emojis) {
		if !looksLikeEmoji(e) {
			return fmt.Errorf("--emojis: %q is not an emoji (want emojis such as 🔥,👏, comma-separated)", e)
		}
	}
	if len(splitList(f.emojis)) == 0 {
		return errors.New("--emojis: want at least one emoji")
	}
	for _, u := range splitList(f.wsURLs) {
		if p, err := url.Parse(u); err != nil || p.Scheme != "ws" && p.Scheme != "wss" || p.Host == "" {
			return fmt.Errorf("--ws-urls: %q: want ws:// or wss://host[:port][/path]", u)
		}
	}
	return nil
}

// looksLikeEmoji reports whether s is made of pictographs and the marks
// that join and vary them, with no letters, digits or spaces.
func looksLikeEmoji(s string) bool {
	pictographs := 0
	for _, r := range s {
		switch {
		case r == 0x200D, r >= 0xFE00 && r <= 0xFE0F, r >= 0x1F3FB && r <= 0x1F3FF, r == 0x20E3, r >= 0xE0020 && r <= 0xE007F:
			// joiner, variation selectors, skin tones, keycap, tag sequences
		case r >= 0x2190 && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) || r == 0xA9 || r == 0xAE:
			pictographs++
		default:
			return false
		}
	}
	return pictographs > 0
}

// settings names the flags that set ingest.Config's fields, for its errors
// (flagError): listen names the API's listener flag (--listen, or up's
// --http).
func (f *ingestFlags) settings(fs *flag.FlagSet, listen string) settingFlags {
	return settingFlags{ingest.ErrConfig, boundFlags(fs, &f.cfg, map[string]string{
		"KafkaBrokers": "kafka-brokers", "Ack": "ack", "Emojis": "emojis", "TrustedProxies": "trusted-proxies",
		"WebSocketURLs": "ws-urls", "UserRate": "user-rate", "IPRate": "ip-rate", "MaxConnections": "max-connections",
		"MaxPerNetwork": "max-per-network", "AdminToken": "admin-token-file", "OpsHosts": "ops-host", "OpsListener": "ops",
		"CORSOrigins": "cors-origins", "VideoOrigins": "video-origins", "Auth.Mode": "auth", "Auth.HMACSecret": "jwt-secret-file",
		"Auth.PublicKeys": "jwt-public-key", "Session.TTL": "session-ttl", "Session.Enabled": "sessions", "Listener": listen})}
}

// disabledIfZero is a rate's library value: 0, which turns the limit off on
// the command line, is the library's negative.
func disabledIfZero(rate float64) float64 {
	if rate == 0 {
		return -1
	}
	return rate
}

func runIngest(ctx context.Context, env *environment, args []string) error {
	fs, f, log, err := parseLogged(env, "ingest", ingestSynopsis, args, func(fs *flag.FlagSet) *ingestFlags { return addIngestFlags(fs, env, ingestAlone) })
	if err != nil {
		return err
	}
	cfg, rc, err := f.config(fs, env, 0)
	if err != nil {
		return err
	}
	metrics := stageRegistry() // the process, ingest and the registry: one /metrics
	rc.Logger, rc.Registerer, cfg.Registerer = log, metrics, metrics
	reg := &registry.Late{} // opened once the hub is reachable: ingest serves, not ready (its series at 0), meanwhile
	if err := reg.Register(metrics); err != nil {
		return err
	}
	cfg.Matches = reg
	if err := cfg.Validate(); err != nil { // before anything is bound or dialled
		return flagError(err, f.settings(fs, "listen"))
	}
	// The timeline's reads wait for the hub the same way (503 until then).
	tlnc, err := f.registry.nats.options(env).Connect(append(f.registry.inboxes(func(err error) { log.Error("timeline: " + err.Error()) }), nats.Name("emostream-timeline"), nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return fmt.Errorf("ingest: timeline: %w", err)
	}
	defer tlnc.Close()
	cfg.Timeline, cfg.Logger = timeline.NewReader(tlnc, wire.TimelineStream, 0), log
	srv, err := f.start(fs, env, log, cfg)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return reg.OpenWhenReachable(ctx, log, func(ctx context.Context) (*registry.Registry, func(), error) { return f.registry.open(ctx, rc) })
	})
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return reloadOnHUP(ctx, log, srv) })
	return g.Wait()
}

// start binds ingest's listeners and builds the server of cfg.
func (f *ingestFlags) start(fs *flag.FlagSet, env *environment, log *slog.Logger, cfg ingest.Config) (*ingest.Server, error) {
	ln, err := listenFlag("listen", f.listen)
	if err != nil {
		return nil, err
	}
	logFileLimit(log, env)
	cfg.Listener = ln
	if cfg.OpsListener, err = f.security.listenOps(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ingest: %w", err)
	}
	srv, err := ingest.New(cfg)
	if err != nil {
		closeAll(ln, cfg.OpsListener)
		return nil, flagError(err, f.settings(fs, "listen"))
	}
	fmt.Fprintf(env.stdout, "ingest listening on http://%s (ops: http://%s)\n", ln.Addr(), srv.OpsAddr())
	return srv, nil
}

// addProducerFlags adds the flags that tune ingest's Kafka producer.
func addProducerFlags(fs *flag.FlagSet, c *ingest.Config) {
	fs.IntVar(&c.MaxInFlight, "max-in-flight", ingest.DefaultMaxInFlight, "most produce requests in flight per partition (the next starts early when a batch is full or --flush-interval passed)")
	fs.IntVar(&c.MaxBatchBytes, "max-batch-bytes", ingest.DefaultMaxBatchBytes, "batch size, bytes before compression, at which a partition sends while a produce is in flight; keep it under the brokers' message.max.bytes")
	fs.TextVar(&c.Compression, "kafka-compression", kafka.Compression(0), "compression of the record batches sent to Kafka: none, gzip, snappy, lz4, zstd")
}
