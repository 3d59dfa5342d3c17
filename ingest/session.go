package ingest

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/setting"
)

// Defaults of SessionConfig.
const (
	DefaultSessionTTL   = 10 * time.Minute
	DefaultSessionRate  = 1.0 // sessions/s per client network
	DefaultSessionBurst = 10
	maxSessionTTL       = time.Hour
)

// SessionConfig turns on POST /v1/session, a demo convenience: it hands
// anyone who asks a short-lived token for a new random user, so that the
// web client works with tokens on and no platform backend. It proves
// nothing about who the user is; in production the platform's backend
// issues the tokens and sessions stay off.
type SessionConfig struct {
	// Enabled serves POST /v1/session (and, with AuthAuto, turns tokens
	// on). False, the default, answers it 404.
	Enabled bool
	// TTL is a session token's lifetime. Zero means DefaultSessionTTL; at
	// most an hour.
	TTL time.Duration
	// Key signs session tokens: an ed25519.PrivateKey or a P-256
	// *ecdsa.PrivateKey, whose public key then also verifies tokens. Nil
	// means HS256 with AuthConfig.HMACSecret if there is one, else a new
	// Ed25519 key made in New (tokens then end with the process).
	Key crypto.Signer
	// Rate and Burst limit new sessions per client network. Zero means
	// DefaultSessionRate and DefaultSessionBurst.
	Rate  float64
	Burst int
}

// sessions issues the tokens of POST /v1/session.
type sessions struct {
	cfg     SessionConfig
	key     any // []byte (HS256) or the private key
	aud     string
	iss     string
	lim     *ratelimit.Limiter[netip.Prefix]
	created prometheus.Counter
}

func (c *SessionConfig) withDefaults() error {
	c.TTL = cmp.Or(c.TTL, DefaultSessionTTL)
	c.Rate = cmp.Or(c.Rate, DefaultSessionRate)
	c.Burst = cmp.Or(c.Burst, DefaultSessionBurst)
	return setting.First(ErrConfig, setting.Under("Session",
		setting.Between("TTL", c.TTL, 0, maxSessionTTL),
		setting.Finite("Rate", c.Rate),
		setting.AtLeast("Rate", c.Rate, 0),
		setting.AtLeast("Burst", c.Burst, 1),
	)...)
}

// newSessions builds the issuer, and returns the public key that must
// verify its tokens (nil for HS256).
func newSessions(cfg *Config) (*sessions, crypto.PublicKey, error) {
	sc := cfg.Session
	if err := sc.withDefaults(); err != nil {
		return nil, nil, err
	}
	s := &sessions{cfg: sc, aud: cfg.Auth.Audience, iss: cfg.Auth.Issuer,
		lim: ratelimit.New[netip.Prefix](sc.Rate, sc.Burst, cfg.MaxBuckets)}
	switch {
	case sc.Key != nil:
		s.key = sc.Key
		return s, sc.Key.Public(), nil
	case len(cfg.Auth.HMACSecret) > 0:
		s.key = cfg.Auth.HMACSecret
		return s, nil, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ingest: session key: %w", err)
	}
	s.key = priv
	return s, priv.Public(), nil
}

func (ss *sessions) register(reg prometheus.Registerer) error {
	ss.created = prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_ingest_sessions_created_total",
		Help: "Tokens issued by POST /v1/session (a demo convenience)."})
	for _, c := range []prometheus.Collector{ss.created, limiterGauge(ss.lim, "session")} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// SignToken signs a token for user sub, valid from now for ttl, with key: a
// []byte HMAC secret (HS256), an ed25519.PrivateKey (EdDSA) or a P-256
// *ecdsa.PrivateKey (ES256). It is what POST /v1/session, "emostream send"
// and the tests sign with; a platform's backend uses its own JWT library.
func SignToken(key any, sub, audience, issuer string, now time.Time, ttl time.Duration) (string, error) {
	var m jwt.SigningMethod
	switch k := key.(type) {
	case []byte:
		m = jwt.SigningMethodHS256
	case ed25519.PrivateKey:
		m = jwt.SigningMethodEdDSA
	case *ecdsa.PrivateKey:
		m = jwt.SigningMethodES256
	default:
		return "", fmt.Errorf("ingest: cannot sign with a %T", k)
	}
	claims := jwt.RegisteredClaims{Subject: sub, Audience: jwt.ClaimStrings{audience}, Issuer: issuer,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}
	return jwt.NewWithClaims(m, claims).SignedString(key)
}

// sessionReply is the body of POST /v1/session.
type sessionReply struct {
	Token     string    `json:"token"`
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// postSession is POST /v1/session: a token for a new random user.
func (s *Server) postSession(c *fiber.Ctx) error {
	now := s.cfg.Now()
	cn := network(s.clientIP(c), s.cfg.IPPrefixV4, s.cfg.IPPrefixV6)
	if ok, wait := s.sess.lim.Take(cn, 1, now); !ok {
		return rateLimited(wait, "client network "+cn.String()+" (sessions)").write(s, c)
	}
	var id [8]byte
	rand.Read(id[:])
	sub := "web-" + hex.EncodeToString(id[:])
	tok, err := SignToken(s.sess.key, sub, s.sess.aud, s.sess.iss, now, s.sess.cfg.TTL)
	if err != nil {
		return err
	}
	s.sess.created.Inc()
	c.Set(fiber.HeaderCacheControl, "no-store")
	return sendJSONValue(c, fiber.StatusOK, sessionReply{Token: tok, UserID: sub, ExpiresAt: now.Add(s.sess.cfg.TTL).UTC()})
}

// sessionRoutes adds POST /v1/session when sessions are on.
func (s *Server) sessionRoutes(app *fiber.App) {
	if s.sess == nil {
		return
	}
	app.Post("/v1/session", s.postSession)
	s.allowed(app, "/v1/session", "POST")
}
