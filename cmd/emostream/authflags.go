package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/hostcheck"
)

// securityFlags are the flags of "emostream ingest" and "emostream up" for
// tokens, sessions, CORS and the ops listener (docs/api.md,
// docs/security.md).
type securityFlags struct {
	auth, secretFile, publicKeys, jwks, audience, issuer string
	corsOrigins, videoOrigins, ops, opsHosts             string
	sessions                                             bool
	sessionTTL                                           time.Duration
}

func addSecurityFlags(fs *flag.FlagSet) *securityFlags {
	f := &securityFlags{}
	fs.StringVar(&f.auth, "auth", "", "POST /v1/emojis authentication: jwt or none; empty means jwt unless the API listens on loopback")
	fs.StringVar(&f.secretFile, "jwt-secret-file", "", "file with the HS256 secret that verifies tokens (else EMOSTREAM_JWT_SECRET), at least 32 bytes")
	fs.StringVar(&f.publicKeys, "jwt-public-key", "", "PEM files of Ed25519 or P-256 public keys that verify EdDSA/ES256 tokens, comma-separated")
	fs.StringVar(&f.jwks, "jwt-jwks", "", "JWKS file of Ed25519/P-256 public keys (by kid), reloaded on SIGHUP")
	fs.StringVar(&f.audience, "jwt-audience", ingest.DefaultJWTAudience, "audience a token must name")
	fs.StringVar(&f.issuer, "jwt-issuer", ingest.DefaultJWTIssuer, "issuer a token must name")
	fs.StringVar(&f.corsOrigins, "cors-origins", "", "browser origins besides the page's own allowed to call the API (https://app.example), comma-separated; * for any")
	fs.StringVar(&f.videoOrigins, "video-origins", "", "origins of the HLS streams the player page (/player.html) may play (https://cdn.example), comma-separated")
	fs.BoolVar(&f.sessions, "sessions", false, "demo convenience: POST /v1/session hands anyone a short-lived token for a new random user (turns --auth to jwt)")
	fs.DurationVar(&f.sessionTTL, "session-ttl", ingest.DefaultSessionTTL, "lifetime of a POST /v1/session token, at most 1h")
	fs.StringVar(&f.ops, "ops", ingest.DefaultOpsListen, "ops listener: /metrics, /healthz, /readyz and the admin API (keep it private)")
	fs.StringVar(&f.opsHosts, "ops-host", "", hostsUsage())
	return f
}

// apply fills cfg's Auth, Session, CORSOrigins, VideoOrigins and OpsHosts.
func (f *securityFlags) apply(env *environment, cfg *ingest.Config) error {
	a := ingest.AuthConfig{Mode: ingest.AuthMode(f.auth), JWKSFile: f.jwks, Audience: f.audience, Issuer: f.issuer}
	secret, err := readSecret(env, f.secretFile, "EMOSTREAM_JWT_SECRET", "--jwt-secret-file")
	if err != nil {
		return err
	}
	a.HMACSecret = secret
	for _, file := range splitList(f.publicKeys) {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--jwt-public-key: %w", err)
		}
		k, err := ingest.ParsePublicKeyPEM(b)
		if err != nil {
			return fmt.Errorf("--jwt-public-key %s: %w", file, err)
		}
		a.PublicKeys = append(a.PublicKeys, k)
	}
	cfg.Auth, cfg.CORSOrigins, cfg.VideoOrigins = a, splitList(f.corsOrigins), splitList(f.videoOrigins)
	cfg.Session = ingest.SessionConfig{Enabled: f.sessions, TTL: f.sessionTTL}
	if cfg.OpsHosts, err = hostcheck.ParseNames(f.opsHosts); err != nil {
		return fmt.Errorf("--ops-host %w", err)
	}
	return nil
}

// listenOps binds the ops listener, which ingest cannot run without: an
// empty --ops, "off" for the other stages, bound every interface on a
// random port.
func (f *securityFlags) listenOps() (net.Listener, error) {
	if f.ops == "" {
		return nil, errors.New(`--ops "": ingest always serves /metrics, its health and the admin API: give an address (127.0.0.1:0 for a free loopback port)`)
	}
	return listenFlag("ops", f.ops)
}

// readSecret reads a secret from file, or else from the environment
// variable env (never a flag of its own: flags show in ps).
func readSecret(env *environment, file, envVar, flagName string) ([]byte, error) {
	if file == "" {
		if v := env.getenv(envVar); v != "" {
			return []byte(v), nil
		}
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: the file is empty", flagName)
	}
	return b, nil
}

// reloadOnHUP reloads the JWKS file on every SIGHUP until ctx ends.
func reloadOnHUP(ctx context.Context, log *slog.Logger, srv *ingest.Server) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			if err := srv.ReloadAuthKeys(); err != nil {
				log.Error("keeping the auth keys in use", "err", err)
			}
		}
	}
}

// defaultJWTTTL is the lifetime of the tokens send and loadgen sign.
const defaultJWTTTL = 15 * time.Minute

// clientAuthFlags are the token flags of the clients, "emostream send" and
// "emostream loadgen": a ready token, or a key to sign their own.
type clientAuthFlags struct {
	token, secretFile, keyFile, audience, issuer string
	ttl                                          time.Duration
}

func addClientAuthFlags(fs *flag.FlagSet) *clientAuthFlags {
	f := &clientAuthFlags{}
	fs.StringVar(&f.token, "token", "", "bearer token (JWT) to send; its subject is the user (else EMOSTREAM_TOKEN)")
	fs.StringVar(&f.secretFile, "jwt-secret-file", "", "sign tokens for the simulated users with this HS256 secret (else EMOSTREAM_JWT_SECRET)")
	fs.StringVar(&f.keyFile, "jwt-key", "", "sign tokens for the simulated users with this PEM Ed25519 or P-256 private key")
	fs.StringVar(&f.audience, "jwt-audience", ingest.DefaultJWTAudience, "audience of signed tokens")
	fs.StringVar(&f.issuer, "jwt-issuer", ingest.DefaultJWTIssuer, "issuer of signed tokens")
	fs.DurationVar(&f.ttl, "jwt-ttl", defaultJWTTTL, "lifetime of signed tokens")
	return f
}

// tokenSource gives the bearer token of a user; nil means none is sent.
// fixed says the token is given and names its own user.
type tokenSource struct {
	fixed string
	key   any
	f     *clientAuthFlags
}

// source builds the token source of the flags, nil when no token is asked
// for.
func (f *clientAuthFlags) source(env *environment) (*tokenSource, error) {
	if f.token == "" {
		f.token = env.getenv("EMOSTREAM_TOKEN")
	}
	secret, err := readSecret(env, f.secretFile, "EMOSTREAM_JWT_SECRET", "--jwt-secret-file")
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	if f.keyFile != "" {
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--jwt-key: %w", err)
		}
		if key, err = ingest.ParsePrivateKeyPEM(b); err != nil {
			return nil, fmt.Errorf("--jwt-key %s: %w", f.keyFile, err)
		}
	}
	n := 0
	for _, set := range []bool{f.token != "", secret != nil, key != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, errors.New("give one of --token, --jwt-secret-file and --jwt-key")
	case f.token != "":
		return &tokenSource{fixed: f.token, f: f}, nil
	case secret != nil:
		return &tokenSource{key: secret, f: f}, nil
	}
	return &tokenSource{key: key, f: f}, nil
}

// tokenFor is user's token: the given one, or one signed now.
func (s *tokenSource) tokenFor(user string) (string, error) {
	if s.fixed != "" {
		return s.fixed, nil
	}
	return ingest.SignToken(s.key, user, s.f.audience, s.f.issuer, time.Now(), s.f.ttl)
}
