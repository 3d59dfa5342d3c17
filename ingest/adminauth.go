package ingest

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/wire"
)

// Guesses of the admin token are limited per client network: each request
// with a missing or wrong token spends a token of its network's bucket
// (AdminGuessRate, AdminGuessBurst); an empty bucket answers 429 before
// the token is even compared. A right token spends nothing.
const (
	// DefaultAdminGuessRate is the wrong admin tokens per second allowed
	// per client network, after the burst: one every 10 s.
	DefaultAdminGuessRate = 0.1
	// DefaultAdminGuessBurst is how many wrong tokens in a row a network
	// may send before the rate applies.
	DefaultAdminGuessBurst = 10
)

// adminAuth checks the admin bearer token and limits guesses.
type adminAuth struct {
	want     [sha256.Size]byte
	lim      *ratelimit.Limiter[netip.Prefix]
	failures *prometheus.CounterVec
}

func newAdminAuth(cfg *Config) *adminAuth {
	return &adminAuth{want: sha256.Sum256([]byte(cfg.AdminToken)),
		lim: ratelimit.New[netip.Prefix](cfg.AdminGuessRate, cfg.AdminGuessBurst, cfg.MaxBuckets),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_ingest_admin_auth_failures_total",
			Help: "Admin API requests refused: missing or wrong bearer token (401), or refused unchecked because the client network guessed too often (limited, 429)."},
			[]string{"reason"})}
}

func (a *adminAuth) register(reg prometheus.Registerer) error {
	for _, r := range []string{"missing", "wrong", "limited"} {
		a.failures.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{a.failures, limiterGauge(a.lim, "admin")} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// check is "" for the admin token (compared in constant time), else why
// the request is refused: missing, wrong, or limited (its network has no
// guess left; then also how long until it has).
func (s *Server) checkAdmin(c *fiber.Ctx) *httpError {
	a := s.admin
	cn := network(s.clientIP(c), s.cfg.IPPrefixV4, s.cfg.IPPrefixV6)
	if a.lim.Enabled() {
		if ok, wait := a.lim.Take(cn, 1, s.cfg.Now()); !ok {
			a.failures.WithLabelValues("limited").Inc()
			return rateLimited(wait, "client network "+cn.String()+" (wrong admin tokens)")
		}
	}
	tok, ok := cutBearer(c.Request().Header.Peek(fiber.HeaderAuthorization)) // the scheme in any case (RFC 9110)
	got := sha256.Sum256([]byte(tok))
	if ok && subtle.ConstantTimeCompare(got[:], a.want[:]) == 1 {
		if a.lim.Enabled() {
			a.lim.Give(cn, 1)
		}
		return nil
	}
	reason := "wrong"
	if !ok || tok == "" {
		reason = "missing"
	}
	a.failures.WithLabelValues(reason).Inc()
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="emostream-admin"`)
	return &httpError{code: wire.CodeUnauthorized, index: -1, msg: "the admin API needs Authorization: Bearer <admin token>"}
}
