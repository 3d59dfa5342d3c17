package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/internal/hostcheck"
	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/web"
	"github.com/emostream/emostream/wire"
)

// Server is the ingest stage: the HTTP API in front of the Kafka producer.
type Server struct {
	cfg        Config
	allow      map[string]string // public paths and their methods (allowed)
	ln         net.Listener
	app        *fiber.App
	dec        *wire.Decoder
	prod       *producer
	lim        *limits
	m          *metrics
	conns      *connMetrics
	gatherer   prometheus.Gatherer
	emojisJSON []byte // GET /v1/emoji-types
	clientJSON []byte // GET /v1/config
	emojis     []string
	tlLim      *ratelimit.Limiter[netip.Prefix] // timeline.go: per client network
	mlist      *matchLister                     // matchlist.go: GET /v1/matches

	opsLn    net.Listener       // ops.go: /metrics, health, admin API
	ops      *fiber.App         // served on opsLn
	opsHosts *hostcheck.Checker // the Hosts opsLn answers
	opsGuard *ratelimit.Guard   // ops.go: its rates and connection caps
	auth     *authenticator     // auth.go: nil when tokens are off
	sess     *sessions          // session.go: nil when sessions are off
	admin    *adminAuth         // adminauth.go: nil without an admin token
	csp      string             // cors.go: the page's Content-Security-Policy
}

// New validates cfg and builds a Server; Run serves it. It does not contact
// Kafka: /readyz turns green once Run reached it.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	set, err := wire.NewEmojiSet(cfg.Emojis)
	if err := setting.First(ErrConfig, setting.Err("Emojis", nil, err)); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, dec: wire.NewDecoder(set), lim: newLimits(&cfg)}
	s.cfg.Logger = cfg.Logger.With("component", "ingest")
	if err := s.initMetrics(); err != nil {
		return nil, err
	}
	if s.ln = cfg.Listener; s.ln == nil {
		if s.ln, err = net.Listen("tcp", DefaultListen); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if err := s.initSecurity(); err != nil {
		if cfg.Listener == nil {
			s.ln.Close()
		}
		return nil, err
	}
	if err = s.initJSON(set.List()); err == nil {
		s.app, err = s.newApp()
	}
	if err != nil {
		if cfg.Listener == nil {
			s.ln.Close()
		}
		return nil, err
	}
	s.ln = newConnLimiter(s.ln, &s.cfg, s.conns)
	return s, nil
}

func (s *Server) initMetrics() error {
	reg, gath := s.cfg.Registerer, s.cfg.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gath = r, r
	}
	if g, ok := reg.(prometheus.Gatherer); ok && gath == nil {
		gath = g
	}
	if err := setting.First(ErrConfig, setting.Check("Gatherer", nil, gath != nil, "want one beside a Registerer that is no Gatherer")); err != nil {
		return err
	}
	s.gatherer, s.cfg.Registerer = gath, reg
	s.prod = newProducer(&s.cfg, nil)
	m, err := newMetrics(reg, s.prod.ready)
	s.m, s.prod.m = m, m
	if err == nil {
		s.conns, err = newConnMetrics(reg)
	}
	if err == nil {
		err = s.lim.register(reg)
	}
	if err == nil {
		err = recovery.Register(reg, panicAPI, panicOps, panicStream)
	}
	return err
}

func (s *Server) initJSON(emojis []string) error {
	s.emojis = emojis
	var err, err2 error
	s.emojisJSON, err = json.Marshal(map[string][]string{"emoji_types": emojis})
	s.clientJSON, err2 = json.Marshal(clientConfig(&s.cfg, emojis))
	if err = cmp.Or(err, err2); err != nil {
		return fmt.Errorf("ingest: encoding the client's configuration: %w", err)
	}
	return nil
}

// clientConfig is the page's configuration, GET /v1/config.
func clientConfig(cfg *Config, emojis []string) web.ClientConfig {
	ws := cfg.WebSocketURLs
	if ws == nil {
		ws = []string{}
	}
	return web.ClientConfig{WebSocketURLs: ws, WindowMs: cfg.Window.Milliseconds(),
		SwarmThreshold: cfg.SwarmThreshold, EmojiTypes: emojis, Limits: clientLimits(cfg),
		Auth: clientAuth(cfg), Sessions: cfg.Session.Enabled}
}

// clientLimits are the rate limits a client splits its requests by; a
// disabled limit is 0.
func clientLimits(cfg *Config) *web.Limits {
	l := &web.Limits{MaxEvents: wire.MaxBatch}
	if cfg.UserRate > 0 {
		l.UserRate, l.UserBurst = cfg.UserRate, cfg.UserBurst
	}
	if cfg.IPRate > 0 {
		l.IPRate, l.IPBurst = cfg.IPRate, cfg.IPBurst
	}
	return l
}

func (s *Server) newApp() (*fiber.App, error) {
	app := s.newFiber(panicAPI, fiber.Config{BodyLimit: s.cfg.BodyLimit, ReadBufferSize: s.readBufferSize()})
	app.Use(s.securityHeaders, s.cors)
	app.Post("/v1/emojis", s.postEmojis)
	app.Get("/v1/emoji-types", s.sendJSON(func() []byte { return s.emojisJSON }))
	app.Get("/v1/config", s.sendJSON(func() []byte { return s.clientJSON }))
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	for path, allow := range map[string]string{"/v1/emojis": "POST", "/v1/emoji-types": "GET, HEAD",
		"/v1/config": "GET, HEAD", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD"} {
		s.allowed(app, path, allow)
	}
	if err := s.timelineRoutes(app); err != nil {
		return nil, fmt.Errorf("ingest: registering metrics: %w", err)
	}
	if err := s.matchRoutes(app); err != nil {
		return nil, fmt.Errorf("ingest: registering metrics: %w", err)
	}
	s.sessionRoutes(app)
	app.All("/v1/admin", s.adminElsewhere)
	app.All("/v1/admin/*", s.adminElsewhere)
	app.Use("/", filesystem.New(filesystem.Config{Root: http.FS(s.static()), Index: "index.html"}))
	app.Use(func(c *fiber.Ctx) error {
		return s.fail(c, wire.CodeNotFound, "no such path: "+c.Path(), -1)
	})
	return app, nil
}

// Addr is the address the API is served on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Handler is the API as a fasthttp handler, for benchmarks and fuzzing
// without a network.
func (s *Server) Handler() fasthttp.RequestHandler { return s.app.Server().Handler }

// Run serves until ctx ends, then stops accepting, waits for open requests,
// sends what is buffered and waits for every produce, so no event answered
// 202 is lost. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go s.prod.watch(watchCtx)
	go s.sweep(watchCtx)
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(s.ln) }()
	opsc := s.serveOps()
	s.cfg.Logger.Info("serving", "addr", s.ln.Addr().String(), "ops", s.opsLn.Addr().String(), "auth", s.cfg.Auth.Mode, "brokers", s.cfg.KafkaBrokers, "topic", s.cfg.Topic, "ack", s.cfg.Ack,
		"max_conns", s.cfg.MaxConnections, "max_conns_per_prefix", s.cfg.MaxPerNetwork, "accept_gzip", s.cfg.AcceptGzip)
	var err error
	select {
	case err = <-errc:
		err = fmt.Errorf("ingest: serving: %w", err)
	case err = <-opsc:
		err = fmt.Errorf("ingest: serving ops: %w", err)
	case <-ctx.Done():
	}
	if serr := s.app.ShutdownWithTimeout(s.cfg.ShutdownTimeout); serr != nil {
		err = errors.Join(err, fmt.Errorf("ingest: shutting down http: %w", serr))
	}
	if serr := s.ops.ShutdownWithTimeout(s.cfg.ShutdownTimeout); serr != nil {
		err = errors.Join(err, fmt.Errorf("ingest: shutting down ops: %w", serr))
	}
	s.prod.close(s.cfg.ShutdownTimeout)
	s.prod.client.Transport.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	s.cfg.Logger.Info("stopped")
	return err
}

// sweep drops idle rate-limit buckets until ctx ends.
func (s *Server) sweep(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.lim.sweep(s.cfg.Now())
			s.mlist.sweep(s.cfg.Now())
			if s.sess != nil {
				s.sess.lim.Sweep(s.cfg.Now())
			}
			if s.admin != nil {
				s.admin.lim.Sweep(s.cfg.Now())
			}
		}
	}
}

// static is the file tree served at "/".
func (s *Server) static() fs.FS {
	if s.cfg.Static != nil {
		return s.cfg.Static
	}
	return web.Static()
}
