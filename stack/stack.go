// Package stack composes every EmoStream stage on one machine, in pipeline
// order: the embedded Kafka-protocol broker (or external brokers), ingest,
// bridge, processor, the NATS hub and one leaf cluster per WebSocket
// address. "emostream up" runs it, and so do the end-to-end, browser and
// benchmark tests, so they exercise exactly what a user starts.
package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/bridge"
	"github.com/emostream/emostream/edge"
	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// Config describes the stack. Zero values are documented defaults; the
// listen addresses default to random loopback ports (tests), and
// "emostream up" passes the fixed ones of docs/design.md.
type Config struct {
	// DataDir holds the Kafka log (DataDir/kafka) and JetStream's store
	// (DataDir/jetstream). Required.
	DataDir string
	// KafkaBrokers, when set, are external Kafka brokers and no embedded
	// broker starts.
	KafkaBrokers []string
	// KafkaListener serves the embedded broker. Nil means 127.0.0.1:0.
	KafkaListener net.Listener
	// KafkaSecurity is how the stages connect to the external KafkaBrokers
	// (TLS, SASL). The embedded broker is plaintext on loopback, so with it
	// this must be zero.
	KafkaSecurity kafkaconn.Security
	// Partitions of the events topic when the embedded broker creates it
	// (a data directory that has the topic keeps its count), at most
	// kafkaconn.MaxPartitions. Zero means DefaultPartitions.
	Partitions int32
	// HubListen, LeafListen and MonitorListen are the hub's client,
	// leafnode and monitoring addresses. Empty means 127.0.0.1:0 (and no
	// monitoring port).
	HubListen, LeafListen, MonitorListen string
	// NATSPasswords are the passwords of the hub's client-port users
	// (fanout.StageUsers); each in-process stage connects as its own user,
	// with its least permissions. Nil means random ones for this start,
	// and a client without credentials on the hub's port, which must then
	// be loopback, connects as the admin user (the match registry only):
	// the quick start's "emostream match".
	NATSPasswords map[string]string
	// NATSTLS, when it has a certificate, serves the hub's client and
	// leafnode ports over TLS; the stages and leaves verify the hub with
	// its CA and, with Verify, present the same certificate as their
	// client certificate. Zero means plain.
	NATSTLS fanout.TLSConfig
	// WebSocketListens has one address per leaf cluster: an edge (package
	// edge) serves that leaf's viewers there. Empty means one leaf on
	// 127.0.0.1:0.
	WebSocketListens []string
	// LeafWebSocket serves viewers from the leaves' own nats-server
	// WebSocket listeners instead of edges: for trusted networks only
	// (docs/security.md, "Viewer entry point"). Zero means edges.
	LeafWebSocket bool
	// Edge tunes the edges (limits); the stack fills in the listener,
	// NATSURL, domain, ID, metrics and logger.
	Edge edge.Config
	// Window is the counting window. Zero means wire.DefaultWindow.
	Window time.Duration
	// SwarmThreshold is how many identical emojis make a unit. Zero means
	// wire.DefaultSwarmThreshold.
	SwarmThreshold int64
	// Ingest, Bridge and Processor tune the stages; the stack fills in how
	// they reach Kafka and NATS, the window, the threshold, metrics and
	// logger. Ingest.Listener nil means 127.0.0.1:0.
	Ingest    ingest.Config
	Bridge    bridge.Config
	Processor processor.Config
	// Registry tunes the match registry on the hub (AutoMatches,
	// MaxMatches); the stack fills in its metrics and logger.
	Registry registry.Config
	// DemoMatch, when set, is created live in the registry at start unless
	// the registry already has it (in whatever state).
	DemoMatch string
	// Logger receives every stage's log. Nil discards it.
	Logger *slog.Logger
	// NATSLogger receives the log of the hub's and leaves' nats-servers
	// (their start-up banners, connections). Nil means Logger.
	NATSLogger *slog.Logger
}

// ErrConfig is wrapped by every error of Start about its Config.
var ErrConfig = errors.New("stack: invalid config")

// DefaultPartitions is the partition count the embedded broker of a stack
// creates the events topic with, fewer than wire.DefaultPartitions: the
// embedded broker serves every request on one goroutine, so its partitions
// add no write parallelism, while each partition with new records costs
// the group fsync that every acknowledgement waits for two more fsyncs
// (its segment and index), makes one partition's commit wait for the pass
// another one started, and splits ingest's batches. One partition was
// 1.14× the acked single events of two at 128 connections and 1.05× the
// 100-event arrays (docs/benchmarks.md, issue 23); one bridge worker
// counts it faster than the broker serves it. `emostream topic
// add-partitions` grows it.
const DefaultPartitions = 1

// Validate checks what the stack itself takes of c, one rule per setting
// (package setting): its error names the setting and wraps ErrConfig.
// Start calls it before anything starts, and so may a caller that must
// refuse a configuration before it binds listeners ("emostream up"). The
// stages check the rest in their New.
func (c Config) Validate() error {
	window := cmp.Or(c.Window, wire.DefaultWindow)
	return setting.First(ErrConfig,
		setting.Check("DataDir", c.DataDir, c.DataDir != "", "want a directory"),
		setting.Check("KafkaSecurity", nil, len(c.KafkaBrokers) > 0 || c.KafkaSecurity == (kafkaconn.Security{}),
			"want none with the embedded broker, which is plaintext on loopback: TLS and SASL need external brokers (KafkaBrokers)"),
		setting.Between("Partitions", c.Partitions, 0, kafkaconn.MaxPartitions),
		setting.Check("Window", window, wire.ValidWindow(window), "want "+wire.WindowRule),
		setting.AtLeast("SwarmThreshold", c.SwarmThreshold, 0),
	)
}

// anyLoopback is the listen address of every listener the Config leaves
// empty: a free port on loopback.
const anyLoopback = "127.0.0.1:0"

// Stack is a started set of servers with its stages built; Run runs them.
type Stack struct {
	cfg       Config
	Broker    *broker.Broker // nil with external brokers
	Hub       *fanout.Hub
	Leaves    []*fanout.Leaf
	Edges     []*edge.Edge // one per leaf, unless LeafWebSocket
	Ingest    *ingest.Server
	Bridge    *bridge.Bridge
	Processor *processor.Processor
	Registry  *prometheus.Registry
	// Matches is the match registry ingest admits reactions by.
	Matches *registry.Registry
	nc      *nats.Conn // the registry's connection to the hub
	tlnc    *nats.Conn // ingest's timeline reads, as user ingest
}

// Start starts the servers (broker, hub, leaves) and builds the stages. On
// error everything started is stopped again.
func Start(cfg Config) (*Stack, error) { return StartContext(context.Background(), cfg) }

// StartContext is Start that gives up, stopping what it started, once ctx
// ends (Ctrl-C during start-up).
func StartContext(ctx context.Context, cfg Config) (st *Stack, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NATSLogger == nil {
		cfg.NATSLogger = cfg.Logger
	}
	st = &Stack{cfg: cfg, Registry: prometheus.NewRegistry()}
	st.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	started := st // st is nil once an error is returned
	defer func() {
		if err != nil {
			started.stopServers()
		}
	}()
	if err = st.startKafka(); err != nil {
		return nil, err
	}
	if err = st.startFanout(ctx); err != nil {
		return nil, err
	}
	if err = st.openRegistry(ctx); err != nil {
		return nil, err
	}
	if err = st.buildStages(); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *Stack) startKafka() error {
	if len(st.cfg.KafkaBrokers) > 0 {
		return nil
	}
	b, err := broker.Start(broker.Config{DataDir: st.cfg.DataDir, Listener: st.cfg.KafkaListener, Topic: st.Topic(),
		Partitions: cmp.Or(st.cfg.Partitions, DefaultPartitions), GroupSync: true, Logger: st.cfg.Logger.With("component", "kafka")})
	if err != nil {
		return err
	}
	st.Broker = b
	st.cfg.KafkaBrokers = []string{b.Addr()}
	return nil
}

func (st *Stack) startFanout(ctx context.Context) error {
	passwords := st.cfg.NATSPasswords
	if passwords == nil {
		passwords = map[string]string{} // all random
	}
	hub, err := fanout.NewHub(fanout.HubConfig{
		DataDir: st.cfg.DataDir, ClientListen: cmp.Or(st.cfg.HubListen, anyLoopback), LeafListen: cmp.Or(st.cfg.LeafListen, anyLoopback),
		MonitorListen: st.cfg.MonitorListen, Logger: st.cfg.NATSLogger,
		Passwords: passwords, AnonymousAdmin: st.cfg.NATSPasswords == nil,
		ClientTLS: st.cfg.NATSTLS, LeafTLS: st.cfg.NATSTLS})
	if err != nil {
		return err
	}
	st.Hub = hub // stopped by Start on error, also when it did not start
	if err := hub.StartContext(ctx); err != nil {
		return err
	}
	ws := st.cfg.WebSocketListens
	if len(ws) == 0 {
		ws = []string{anyLoopback}
	}
	for i, addr := range ws {
		leaf, err := fanout.NewLeaf(fanout.LeafConfig{Name: fmt.Sprintf("emostream-leaf-%d", i+1),
			Remotes: []string{hub.LeafRemote()}, WebSocketListen: addr, DisableWebSocket: !st.cfg.LeafWebSocket,
			RemoteTLS: st.clientTLS(), Logger: st.cfg.NATSLogger})
		if err != nil {
			return err
		}
		st.Leaves = append(st.Leaves, leaf)
		if err := leaf.StartContext(ctx); err != nil {
			return err
		}
		if !st.cfg.LeafWebSocket {
			if err := st.startEdge(i+1, addr, leaf); err != nil {
				return err
			}
		}
	}
	return nil
}

// startEdge builds the edge that serves leaf's viewers on addr.
func (st *Stack) startEdge(n int, addr string, leaf *fanout.Leaf) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("stack: edge %d: %w", n, err)
	}
	id := fmt.Sprintf("edge-%d", n)
	c := st.cfg.Edge
	c.Listener, c.NATSURL, c.Domain, c.ID = ln, leaf.EdgeUpstream(), fanout.HubDomain, id
	c.Registerer = prometheus.WrapRegistererWith(prometheus.Labels{"edge": id}, st.Registry)
	c.Logger = st.cfg.Logger
	e, err := edge.New(c)
	if err != nil {
		ln.Close()
		return err
	}
	st.Edges = append(st.Edges, e)
	return nil
}

// openRegistry opens the match registry on the hub and creates the demo
// match.
func (st *Stack) openRegistry(ctx context.Context) error {
	nc, err := nats.Connect(st.Hub.ClientURL(), append(st.NATSOptions(fanout.UserAdmin), nats.Name("emostream-registry"),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("stack: connecting to the hub: %w", err)
	}
	st.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	rc := st.cfg.Registry
	rc.Registerer, rc.Logger = st.Registry, st.cfg.Logger
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if st.Matches, err = registry.Open(ctx, js, rc); err != nil {
		return err
	}
	if st.cfg.DemoMatch == "" {
		return nil
	}
	// An existing demo match is found before the bound is checked: a full
	// registry restarts. A missing one in a full registry is not worth
	// refusing to start over.
	_, err = st.Matches.Create(ctx, registry.Match{ID: st.cfg.DemoMatch, State: registry.Live, Title: "Demo match"})
	switch {
	case errors.Is(err, registry.ErrFull):
		st.cfg.Logger.Warn("demo match not created", "match", st.cfg.DemoMatch, "err", err)
	case err != nil && !errors.Is(err, registry.ErrExists):
		return fmt.Errorf("stack: demo match: %w", err)
	}
	return nil
}

func (st *Stack) buildStages() error {
	c := &st.cfg
	window := cmp.Or(c.Window, wire.DefaultWindow)
	threshold := cmp.Or(c.SwarmThreshold, wire.DefaultSwarmThreshold)
	pc := c.Processor
	pc.NATSURL, pc.KafkaBrokers, pc.Window, pc.SwarmThreshold = st.Hub.ClientURL(), c.KafkaBrokers, window, threshold
	pc.KafkaSecurity, pc.Topic = c.KafkaSecurity, cmp.Or(pc.Topic, st.Topic())
	pc.Registerer, pc.Logger = st.Registry, c.Logger
	if st.Broker != nil {
		pc.KafkaDial = st.Broker.Dial // in process
	}
	pc.NATSOptions = append(st.NATSOptions(fanout.UserProcessor), pc.NATSOptions...)
	var err error
	if st.Processor, err = processor.New(pc); err != nil {
		return err
	}
	bc := c.Bridge
	bc.KafkaBrokers, bc.NATSURL, bc.Window, bc.Registerer, bc.Logger = c.KafkaBrokers, st.Hub.ClientURL(), window, st.Registry, c.Logger
	bc.KafkaSecurity, bc.Topic = c.KafkaSecurity, cmp.Or(bc.Topic, st.Topic())
	bc.NATSOptions = append(st.NATSOptions(fanout.UserBridge), bc.NATSOptions...)
	if st.Broker != nil {
		bc.KafkaDial = st.Broker.Dial // in process
	}
	if st.Bridge, err = bridge.New(bc); err != nil {
		return err
	}
	ic := c.Ingest
	ic.KafkaBrokers, ic.Window, ic.SwarmThreshold, ic.KafkaSecurity = c.KafkaBrokers, window, threshold, c.KafkaSecurity
	if st.Broker != nil {
		ic.Sync = st.Broker.Sync      // the embedded broker fsyncs once per round of produces
		ic.KafkaDial = st.Broker.Dial // in process
	}
	if len(ic.WebSocketURLs) == 0 { // else the URLs browsers reach the leaves at, e.g. through a proxy
		ic.WebSocketURLs = st.WebSocketURLs()
	}
	ic.Registerer, ic.Gatherer, ic.Logger, ic.Matches = st.Registry, st.Registry, c.Logger, st.Matches
	ic.Ready = func() error { return errors.Join(st.Bridge.Ready(), st.Processor.Ready(), st.serversReady()) }
	if st.tlnc, err = nats.Connect(st.Hub.ClientURL(), append(st.NATSOptions(fanout.UserIngest), nats.Name("emostream-timeline"),
		nats.CustomInboxPrefix(wire.IngestInboxPrefix), // the hub's INGEST account answers there
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...); err != nil {
		return fmt.Errorf("stack: connecting to the hub: %w", err)
	}
	ic.Timeline = timeline.NewReader(st.tlnc, wire.TimelineStream, 0)
	if ic.Listener == nil {
		if ic.Listener, err = net.Listen("tcp", anyLoopback); err != nil {
			return fmt.Errorf("stack: %w", err)
		}
	}
	st.Ingest, err = ingest.New(ic)
	return err
}

// WebSocketURLs are the viewer URLs: the edges', or the leaves' own.
func (st *Stack) WebSocketURLs() []string {
	var urls []string
	for _, e := range st.Edges {
		urls = append(urls, e.URL())
	}
	for _, l := range st.Leaves {
		if u := l.WebSocketURL(); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// HTTPURL is the ingest API and web client's base URL.
func (st *Stack) HTTPURL() string { return "http://" + st.Ingest.Addr().String() }

// KafkaBrokers are the brokers the stages use.
func (st *Stack) KafkaBrokers() []string { return st.cfg.KafkaBrokers }

// Topic is the events topic: ingest's (up --topic), which the embedded
// broker creates and the bridge and the processor read unless their own
// Config names another.
func (st *Stack) Topic() string { return cmp.Or(st.cfg.Ingest.Topic, wire.DefaultTopic) }

// NATSOptions are the credentials of one of the hub's client-port users
// (fanout.StageUsers), for the in-process stages and for tests.
func (st *Stack) NATSOptions(user string) []nats.Option {
	opts := []nats.Option{nats.UserInfo(user, st.Hub.Passwords()[user])}
	t := st.clientTLS()
	if t.CA != "" {
		opts = append(opts, nats.RootCAs(t.CA))
	}
	if t.Cert != "" {
		opts = append(opts, nats.ClientCert(t.Cert, t.Key))
	}
	return opts
}

// clientTLS is how the stages and leaves verify the hub and, if it
// verifies clients, identify themselves.
func (st *Stack) clientTLS() fanout.TLSConfig {
	t := st.cfg.NATSTLS
	if t.Cert == "" {
		return fanout.TLSConfig{}
	}
	c := fanout.TLSConfig{CA: t.CA}
	if t.Verify {
		c.Cert, c.Key = t.Cert, t.Key
	}
	return c
}

// NATSURL is the hub's client URL.
func (st *Stack) NATSURL() string { return st.Hub.ClientURL() }

// Run runs every stage until ctx ends or one fails, then shuts down in
// pipeline order: ingest flushes what it acknowledged into Kafka before the
// broker stops, the bridge and processor stop before the NATS servers.
func (st *Stack) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return named("registry", st.Matches.Run(gctx)) })
	g.Go(func() error { return named("ingest", st.Ingest.Run(gctx)) })
	g.Go(func() error { return named("bridge", st.Bridge.Run(gctx)) })
	g.Go(func() error { return named("processor", st.Processor.Run(gctx)) })
	for i, e := range st.Edges {
		g.Go(func() error { return named(fmt.Sprintf("edge %d", i+1), e.Run(gctx)) })
	}
	for _, s := range st.servers() {
		g.Go(func() error { return watchServer(gctx, s) })
	}
	err := g.Wait()
	st.stopServers()
	return err
}

// server is the hub or a leaf, as Run watches them.
type server interface {
	Failed() <-chan struct{}
	Err() error
	Ready() error
}

var _, _ server = (*fanout.Hub)(nil), (*fanout.Leaf)(nil)

// servers are the hub and the leaves.
func (st *Stack) servers() []server {
	out := []server{st.Hub}
	for _, l := range st.Leaves {
		out = append(out, l)
	}
	return out
}

// watchServer returns s's failure if it fails before ctx ends: the stack
// then stops as on Ctrl-C, ingest flushing what it acknowledged into Kafka.
func watchServer(ctx context.Context, s server) error {
	select {
	case <-ctx.Done():
		return nil
	case <-s.Failed():
		return s.Err()
	}
}

// serversReady is nil while the hub and every leaf serve.
func (st *Stack) serversReady() error {
	var errs []error
	for _, s := range st.servers() {
		errs = append(errs, s.Ready())
	}
	return errors.Join(errs...)
}

func named(stage string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", stage, err)
}

func (st *Stack) stopServers() {
	if st.tlnc != nil {
		st.tlnc.Close()
	}
	if st.nc != nil {
		st.nc.Close()
	}
	for _, e := range st.Edges {
		e.Close()
	}
	for i := len(st.Leaves) - 1; i >= 0; i-- {
		st.Leaves[i].Shutdown()
	}
	if st.Hub != nil {
		st.Hub.Shutdown()
	}
	if st.Broker != nil {
		st.Broker.Close()
	}
}
