package ingest

import (
	"crypto"
	"fmt"
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/internal/hostcheck"
	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// The ops listener serves what operators and their tools need, apart from
// the public API: GET /metrics, /healthz, /readyz and the admin API
// (/v1/admin/matches…, with its bearer token). "emostream ingest" binds it
// on --ops, 127.0.0.1:9100 by default. It answers no browser: a
// request with an Origin header, and every OPTIONS, is refused with 403,
// and so is one whose Host names none of the listener's own addresses or
// names (Config.OpsHosts; internal/hostcheck), which a DNS-rebinding page
// cannot avoid.

// DefaultOpsListen is the ops listener of "emostream ingest" and "up".
const DefaultOpsListen = "127.0.0.1:9100"

// opsBodyLimit is the largest body the ops listener reads (an admin
// request's match).
const opsBodyLimit = 64 << 10

// initSecurity sets up what this file set adds to New: the ops listener,
// bearer tokens, sessions, CORS and the page's security headers. It runs
// once the API listener is bound (AuthAuto looks at its address).
func (s *Server) initSecurity() error {
	cfg := &s.cfg
	cfg.Auth.withDefaults(s.ln.Addr(), cfg.Session.Enabled)
	if err := cfg.Auth.validate(); err != nil {
		return err
	}
	_, hostsErr := hostcheck.ParseNames(strings.Join(cfg.OpsHosts, ","))
	rules := append(originRules(cfg.CORSOrigins), webSocketURLRules(cfg.WebSocketURLs)...)
	rules = append(rules, videoOriginRules(cfg.VideoOrigins)...)
	rules = append(rules,
		setting.Check("Session.Enabled", cfg.Session.Enabled, !cfg.Session.Enabled || cfg.Auth.Mode == AuthJWT,
			"want Auth.Mode jwt: sessions issue tokens"),
		setting.Err("OpsHosts", setting.Text(strings.Join(cfg.OpsHosts, ",")), hostsErr))
	if err := setting.First(ErrConfig, rules...); err != nil {
		return err
	}
	s.csp = contentSecurityPolicy(cfg.WebSocketURLs, cfg.VideoOrigins)
	if err := s.initAuth(); err != nil {
		return err
	}
	if cfg.AdminToken != "" && cfg.Matches != nil {
		s.admin = newAdminAuth(cfg)
		if err := s.admin.register(cfg.Registerer); err != nil {
			return err
		}
	}
	if s.opsLn = cfg.OpsListener; s.opsLn == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("ingest: ops listener: %w", err)
		}
		s.opsLn = ln
	}
	s.opsHosts = hostcheck.New(s.opsLn.Addr(), cfg.OpsHosts)
	return s.initOpsGuard()
}

// initOpsGuard limits the ops listener's clients (ratelimit.Guard): its
// connections through the listener, its requests in the app's first
// handler.
func (s *Server) initOpsGuard() error {
	gc := s.cfg.OpsGuard
	gc.Component = panicOps
	g, err := ratelimit.NewGuard(gc)
	if err == nil {
		err = g.Register(s.cfg.Registerer)
	}
	if err != nil {
		return fmt.Errorf("ingest: ops listener: %w", err)
	}
	s.opsGuard, s.opsLn = g, g.Listener(s.opsLn)
	s.ops = s.newOpsApp()
	return nil
}

// opsLimit answers a request over the ops listener's rates 429
// rate_limited with Retry-After, before anything else looks at it. The
// client is the TCP peer: Prometheus and probes come through no proxy.
func (s *Server) opsLimit(c *fiber.Ctx) error {
	a := tcpPeer(c)
	if scope, wait := s.opsGuard.Allow(a, c.Path()); scope != "" {
		secs, msg := ratelimit.Refusal(a, scope, wait)
		return (&httpError{code: wire.CodeRateLimited, msg: msg, index: -1, retryAfter: secs}).write(s, c)
	}
	return c.Next()
}

// initAuth builds the authenticator and the session issuer, and lets a
// request leave out user_id (bindUser fills in the token's subject, which
// the per-user limit then keys on).
func (s *Server) initAuth() error {
	cfg := &s.cfg
	if cfg.Auth.Mode != AuthJWT {
		return nil
	}
	var extra []crypto.PublicKey
	if cfg.Session.Enabled {
		ss, pub, err := newSessions(cfg)
		if err != nil {
			return err
		}
		if err := setting.First(ErrConfig, setting.Check("Auth.HMACSecret", setting.Text(fmt.Sprintf("(%d bytes)", len(cfg.Auth.HMACSecret))),
			pub == nil || len(cfg.Auth.HMACSecret) == 0, "want none beside the session key, which would mix HS256 and public keys; give one kind")); err != nil {
			return err
		}
		if pub != nil {
			extra = append(extra, pub)
		}
		if err := ss.register(cfg.Registerer); err != nil {
			return err
		}
		s.sess = ss
	}
	a, err := newAuthenticator(cfg.Auth, cfg.Now, extra...)
	if err != nil {
		return err
	}
	if err := a.register(cfg.Registerer); err != nil {
		return err
	}
	s.auth = a
	s.dec = s.dec.WithOptionalUser()
	return nil
}

// readBufferSize is fasthttp's per-connection header buffer: room for a
// token of up to 4 KiB when tokens are on, fasthttp's default otherwise.
func (s *Server) readBufferSize() int {
	if s.auth == nil {
		return 0
	}
	return max(authReadBuffer, s.cfg.Auth.MaxTokenBytes+4<<10)
}

func (s *Server) newOpsApp() *fiber.App {
	app := s.newFiber(panicOps, fiber.Config{BodyLimit: opsBodyLimit})
	app.Use(s.opsLimit, s.ownHost, s.noBrowsers)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{})))
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		app.All(path, s.methodNotAllowed("GET, HEAD"))
	}
	s.adminRoutes(app)
	app.Use(func(c *fiber.Ctx) error {
		return s.fail(c, wire.CodeNotFound, "no such path on the ops listener: "+c.Path(), -1)
	})
	return app
}

// noBrowsers refuses what only a browser page sends: an Origin header or a
// preflight. No page may read metrics or reach the admin API, even one on
// the same host.
func (s *Server) noBrowsers(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if c.Get(fiber.HeaderOrigin) != "" || c.Method() == fiber.MethodOptions {
		return s.fail(c, wire.CodeForbidden, "the ops listener takes no browser requests", -1)
	}
	return c.Next()
}

// ownHost refuses a request whose Host is not the ops listener's: a page
// on a name that its attacker resolves to this machine (DNS rebinding)
// sends that name.
func (s *Server) ownHost(c *fiber.Ctx) error {
	if !s.opsHosts.Allowed(string(c.Request().Header.Host())) {
		return s.fail(c, wire.CodeForbidden, "the Host header names none of the ops listener's addresses or names (see --ops-host)", -1)
	}
	return c.Next()
}

// OpsHandler is the ops listener's app as a fasthttp handler, for fuzzing
// without a network.
func (s *Server) OpsHandler() fasthttp.RequestHandler { return s.ops.Server().Handler }

// OpsAddr is the address of the ops listener (/metrics, health, admin API).
func (s *Server) OpsAddr() net.Addr { return s.opsLn.Addr() }

// serveOps serves the ops listener; the channel gets its error.
func (s *Server) serveOps() <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- s.ops.Listener(s.opsLn) }()
	return errc
}
