package ingest

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// AuthMode says how POST /v1/emojis learns who the user is.
type AuthMode string

const (
	// AuthAuto, the zero value, is AuthJWT when the API listener is not on
	// a loopback address (or sessions are on), else AuthNone.
	AuthAuto AuthMode = ""
	// AuthNone believes the user_id of each event. For loopback
	// development only.
	AuthNone AuthMode = "none"
	// AuthJWT requires Authorization: Bearer <JWT>; the token's subject is
	// the user.
	AuthJWT AuthMode = "jwt"
)

// Defaults of AuthConfig.
const (
	DefaultJWTAudience   = "emostream"
	DefaultJWTIssuer     = "emostream"
	DefaultJWTLeeway     = 30 * time.Second
	DefaultMaxTokenBytes = 4 << 10
	// MinHMACSecret is the shortest HS256 secret accepted (RFC 7518, 3.2:
	// at least the hash size).
	MinHMACSecret = 32
	// authReadBuffer is fasthttp's per-connection header buffer with
	// tokens on: room for a token of MaxTokenBytes and ordinary headers.
	authReadBuffer = 8 << 10
)

// The JWT algorithms accepted; each is pinned to one key type.
const (
	algHS256 = "HS256"
	algEdDSA = "EdDSA"
	algES256 = "ES256"
)

// AuthConfig configures the bearer tokens of POST /v1/emojis: JWTs signed
// by the platform's backend. Exactly one kind of key verifies them: an
// HMAC secret (HS256), or public keys (EdDSA with Ed25519, ES256 with
// P-256) given directly or in a JWKS file. Never both, so an HS256 token
// can never be checked against a public key (key confusion), and never
// alg "none".
type AuthConfig struct {
	// Mode is AuthAuto (the zero value), AuthNone or AuthJWT.
	Mode AuthMode
	// HMACSecret verifies HS256 tokens; at least MinHMACSecret bytes.
	HMACSecret []byte
	// PublicKeys verify EdDSA (ed25519.PublicKey) and ES256
	// (*ecdsa.PublicKey on P-256) tokens.
	PublicKeys []crypto.PublicKey
	// JWKSFile is a JSON Web Key Set of Ed25519 (OKP) and P-256 (EC)
	// public keys, read in New (at most MaxJWKSBytes, MaxJWKSKeys keys)
	// and again by Server.ReloadAuthKeys. A token with a "kid" is checked
	// against that key only.
	JWKSFile string
	// Audience must be among the token's "aud". Empty means
	// DefaultJWTAudience.
	Audience string
	// Issuer must be the token's "iss". Empty means DefaultJWTIssuer.
	Issuer string
	// Leeway is the clock skew allowed on "exp", "nbf" and "iat" (a token
	// issued further in the future is refused). Zero means
	// DefaultJWTLeeway; negative means none.
	Leeway time.Duration
	// MaxTokenBytes bounds the Authorization header's token. Zero means
	// DefaultMaxTokenBytes.
	MaxTokenBytes int
}

func (a *AuthConfig) withDefaults(listener net.Addr, sessions bool) {
	if a.Mode == AuthAuto {
		a.Mode = AuthNone
		if sessions || !isLoopback(listener) {
			a.Mode = AuthJWT
		}
	}
	a.Audience = cmp.Or(a.Audience, DefaultJWTAudience)
	a.Issuer = cmp.Or(a.Issuer, DefaultJWTIssuer)
	a.Leeway = cmp.Or(a.Leeway, DefaultJWTLeeway)
	a.MaxTokenBytes = cmp.Or(a.MaxTokenBytes, DefaultMaxTokenBytes)
	a.Leeway = max(a.Leeway, 0)
}

// validate checks a, with its defaults: the rules of Config.Auth.
func (a *AuthConfig) validate() error {
	if a.Mode == AuthNone {
		return nil
	}
	secret := setting.Text(fmt.Sprintf("(%d bytes)", len(a.HMACSecret)))
	rules := []setting.Rule{
		setting.Check("Mode", a.Mode, a.Mode == AuthJWT, "want none or jwt"),
		setting.Check("HMACSecret", secret, len(a.HMACSecret) == 0 || len(a.PublicKeys) == 0 && a.JWKSFile == "",
			"want none beside PublicKeys or JWKSFile: HS256 tokens would be checked with a public key; give one kind"),
		setting.Check("HMACSecret", secret, len(a.HMACSecret) == 0 || len(a.HMACSecret) >= MinHMACSecret,
			fmt.Sprintf("want at least %d bytes", MinHMACSecret)),
		setting.AtLeast("MaxTokenBytes", a.MaxTokenBytes, 0),
	}
	for _, k := range a.PublicKeys {
		_, err := algOf(k)
		rules = append(rules, setting.Err("PublicKeys", nil, err))
	}
	return setting.First(ErrConfig, setting.Under("Auth", rules...)...)
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

// algOf is the one algorithm a public key verifies.
func algOf(k crypto.PublicKey) (string, error) {
	switch k := k.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return algEdDSA, nil
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return algES256, nil
		}
	}
	return "", fmt.Errorf("unsupported public key %T: want Ed25519 or ECDSA P-256", k)
}

// keySet is what verifies tokens; JWKS reloads swap it whole.
type keySet struct {
	hmac  []byte
	keys  map[string][]crypto.PublicKey // by algorithm
	byKid map[string]crypto.PublicKey
}

func (ks *keySet) add(kid string, k crypto.PublicKey) error {
	alg, err := algOf(k)
	if err != nil {
		return err
	}
	if ks.keys == nil {
		ks.keys, ks.byKid = map[string][]crypto.PublicKey{}, map[string]crypto.PublicKey{}
	}
	ks.keys[alg] = append(ks.keys[alg], k)
	if kid != "" {
		ks.byKid[kid] = k
	}
	return nil
}

func (ks *keySet) methods() []string {
	if ks.hmac != nil {
		return []string{algHS256}
	}
	var out []string
	for alg := range ks.keys {
		out = append(out, alg)
	}
	return out
}

func (ks *keySet) len() int {
	n := 0
	if ks.hmac != nil {
		n++
	}
	for _, k := range ks.keys {
		n += len(k)
	}
	return n
}

// authenticator verifies bearer tokens.
type authenticator struct {
	cfg      AuthConfig
	now      func() time.Time
	keys     atomic.Pointer[keySet]
	extra    []crypto.PublicKey // kept across reloads: PublicKeys and the session key
	failures *prometheus.CounterVec
}

func newAuthenticator(cfg AuthConfig, now func() time.Time, extra ...crypto.PublicKey) (*authenticator, error) {
	a := &authenticator{cfg: cfg, now: now, extra: append(append([]crypto.PublicKey{}, cfg.PublicKeys...), extra...)}
	if err := a.load(); err != nil {
		return nil, fmt.Errorf("%w: auth: %v", ErrConfig, err)
	}
	return a, nil
}

// load builds the key set from the config and the JWKS file.
func (a *authenticator) load() error {
	ks := &keySet{}
	if len(a.cfg.HMACSecret) > 0 {
		ks.hmac = a.cfg.HMACSecret
	}
	for _, k := range a.extra {
		if err := ks.add("", k); err != nil {
			return err
		}
	}
	if a.cfg.JWKSFile != "" {
		if err := loadJWKS(ks, a.cfg.JWKSFile); err != nil {
			return err
		}
	}
	if ks.len() == 0 {
		return errors.New("tokens are required (auth jwt, the default off loopback) but no key verifies them: give an HMAC secret, public keys or a JWKS file (--jwt-secret-file, --jwt-public-key, --jwt-jwks), or choose --auth=none")
	}
	a.keys.Store(ks)
	return nil
}

func (a *authenticator) register(reg prometheus.Registerer) error {
	a.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_ingest_auth_failures_total",
		Help: "Bearer tokens refused, by reason (missing, too_large, malformed, signature, algorithm, expired, not_yet_valid, issued_in_future, audience, issuer, subject)."},
		[]string{"reason"})
	for _, r := range authFailureReasons {
		a.failures.WithLabelValues(r) // at 0 from the start: an alert sees the first
	}
	keys := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emostream_ingest_auth_keys",
		Help: "Keys that verify bearer tokens (HMAC secret, public keys, JWKS keys)."},
		func() float64 { return float64(a.keys.Load().len()) })
	for _, c := range []prometheus.Collector{a.failures, keys} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// keyFunc picks the keys a token may be checked with: only keys of the
// token's (pinned) algorithm, and only the one named by its kid, if any.
func (a *authenticator) keyFunc(t *jwt.Token) (any, error) {
	ks := a.keys.Load()
	alg := t.Method.Alg()
	if alg == algHS256 {
		if ks.hmac == nil {
			return nil, errAlgorithm
		}
		return ks.hmac, nil
	}
	if kid, _ := t.Header["kid"].(string); kid != "" {
		k, ok := ks.byKid[kid]
		if got, _ := algOf(k); !ok || got != alg {
			return nil, fmt.Errorf("no %s key with kid %q", alg, kid)
		}
		return k, nil
	}
	set := jwt.VerificationKeySet{}
	for _, k := range ks.keys[alg] {
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return nil, errAlgorithm
	}
	return set, nil
}

var errAlgorithm = errors.New("algorithm not accepted")

// verify checks a token and returns its subject.
func (a *authenticator) verify(tok string) (string, *authError) {
	if len(tok) > a.cfg.MaxTokenBytes {
		return "", &authError{"too_large", fmt.Sprintf("the token has %d bytes, more than %d", len(tok), a.cfg.MaxTokenBytes)}
	}
	p := jwt.NewParser(jwt.WithValidMethods(a.keys.Load().methods()), jwt.WithAudience(a.cfg.Audience),
		jwt.WithIssuer(a.cfg.Issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(a.cfg.Leeway),
		jwt.WithTimeFunc(a.now))
	var claims claims
	if _, err := p.ParseWithClaims(tok, &claims, a.keyFunc); err != nil {
		return "", tokenError(err)
	}
	if !wire.ValidUserID(claims.Subject) {
		return "", &authError{"subject", fmt.Sprintf("the token's subject must be a user_id: 1 to %d bytes without control characters", wire.MaxUserID)}
	}
	return claims.Subject, nil
}

// authFailureReasons label emostream_ingest_auth_failures_total: every
// reason of an authError.
var authFailureReasons = []string{"missing", "too_large", "malformed", "signature", "algorithm", "expired",
	"not_yet_valid", "issued_in_future", "audience", "issuer", "subject"}

// authError is why a token was refused: a metric label and a message.
type authError struct{ reason, msg string }

func tokenError(err error) *authError {
	for _, e := range []struct {
		err    error
		reason string
	}{
		{jwt.ErrTokenExpired, "expired"}, {jwt.ErrTokenNotValidYet, "not_yet_valid"}, {jwt.ErrTokenUsedBeforeIssued, "issued_in_future"},
		{jwt.ErrTokenInvalidAudience, "audience"}, {jwt.ErrTokenInvalidIssuer, "issuer"},
		{jwt.ErrTokenSignatureInvalid, "signature"}, {jwt.ErrTokenMalformed, "malformed"},
		{jwt.ErrTokenRequiredClaimMissing, "malformed"},
	} {
		if errors.Is(err, e.err) {
			return &authError{e.reason, "token refused: " + err.Error()}
		}
	}
	return &authError{"algorithm", "token refused: " + err.Error()}
}

// authenticate returns the user of a POST /v1/emojis, "" when auth is
// off, or the 401.
func (s *Server) authenticate(c *fiber.Ctx) (string, *httpError) {
	if s.auth == nil {
		return "", nil
	}
	h := c.Request().Header.Peek(fiber.HeaderAuthorization)
	tok, ok := cutBearer(h)
	if !ok {
		return "", s.unauthorized(c, &authError{"missing", "POST /v1/emojis needs Authorization: Bearer <token>, a JWT whose subject is the user"}, false)
	}
	sub, aerr := s.auth.verify(tok)
	if aerr != nil {
		return "", s.unauthorized(c, aerr, true)
	}
	return sub, nil
}

// cutBearer returns the token of an "Authorization: Bearer <token>" value.
func cutBearer(h []byte) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(string(h[:len(prefix)]), prefix) {
		return "", false
	}
	return strings.TrimSpace(string(h[len(prefix):])), true
}

func (s *Server) unauthorized(c *fiber.Ctx, e *authError, invalid bool) *httpError {
	s.auth.failures.WithLabelValues(e.reason).Inc()
	challenge := `Bearer realm="emostream"`
	if invalid {
		challenge += `, error="invalid_token"`
	}
	c.Set(fiber.HeaderWWWAuthenticate, challenge)
	return &httpError{code: wire.CodeUnauthorized, msg: e.msg, index: -1}
}

// bindUser makes every event of r the token subject's: an absent user_id
// is filled in, another one is refused with 403 and nothing is stored. The
// per-user limit then charges the subject.
func bindUser(r *request, sub string) *httpError {
	if sub == "" {
		return nil
	}
	for i := range r.events {
		switch u := r.events[i].UserID; u {
		case sub:
		case "":
			r.events[i].UserID = sub
		default:
			return &httpError{code: wire.CodeForbidden, index: i,
				msg: "user_id must be the token's subject or absent"}
		}
	}
	return nil
}

// ReloadAuthKeys reads the JWKS file again ("emostream ingest" calls it on
// SIGHUP). On an error the keys in use stay.
func (s *Server) ReloadAuthKeys() error {
	if s.auth == nil || s.auth.cfg.JWKSFile == "" {
		return nil
	}
	if err := s.auth.load(); err != nil {
		return fmt.Errorf("ingest: reloading %s: %w", s.auth.cfg.JWKSFile, err)
	}
	s.cfg.Logger.Info("auth keys reloaded", "keys", s.auth.keys.Load().len())
	return nil
}

// clientAuth is GET /v1/config's "auth": "jwt" when tokens are required.
func clientAuth(cfg *Config) string {
	if cfg.Auth.Mode == AuthJWT {
		return string(AuthJWT)
	}
	return ""
}
