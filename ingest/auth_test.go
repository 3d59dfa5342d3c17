package ingest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// token signs claims for sub with key, valid from a minute ago for ttl,
// audience and issuer the defaults; edit changes the claims first.
func token(t testing.TB, key any, sub string, edit func(*jwt.RegisteredClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.RegisteredClaims{Subject: sub, Audience: jwt.ClaimStrings{ingest.DefaultJWTAudience}, Issuer: ingest.DefaultJWTIssuer,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}
	if edit != nil {
		edit(&c)
	}
	var m jwt.SigningMethod
	switch key.(type) {
	case []byte:
		m = jwt.SigningMethodHS256
	case ed25519.PrivateKey:
		m = jwt.SigningMethodEdDSA
	case *ecdsa.PrivateKey:
		m = jwt.SigningMethodES256
	}
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// postAs sends body to POST /v1/emojis with Authorization: Bearer tok
// (none when tok is "").
func (st *stack) postAs(t testing.TB, tok, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, st.url+"/v1/emojis", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return st.send(t, req)
}

func (st *stack) send(t testing.TB, req *http.Request) reply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestAuthRefusals: every bad token, and a good token for another user,
// is refused with its code, and nothing reaches Kafka.
func TestAuthRefusals(t *testing.T) {
	k := testenv.StartKafka(t, 4).Target()
	hs := startIngest(t, k, ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: testSecret}})
	edPub, edKey := must2(ed25519.GenerateKey(rand.Reader))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	ed := startIngest(t, k, ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, PublicKeys: []crypto.PublicKey{edPub, &ecKey.PublicKey}}})
	otherEd := must2v(ed25519.GenerateKey(rand.Reader))
	noneTok := must(jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "alice", Audience: jwt.ClaimStrings{"emostream"},
		Issuer: "emostream", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(jwt.UnsafeAllowNoneSignatureType))
	// Key confusion: an HS256 token whose "secret" is the server's public key.
	confused := token(t, []byte(edPub), "alice", nil)
	one := `{"match_id":"final","emoji_type":"🔥"}`
	tests := []struct {
		name   string
		st     *stack
		tok    string
		body   string
		status int
		code   string
		index  int
	}{
		{"missing header", hs, "", one, 401, wire.CodeUnauthorized, -1},
		{"expired", hs, token(t, testSecret, "alice", func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Minute)) }), one, 401, wire.CodeUnauthorized, -1},
		{"no expiry", hs, token(t, testSecret, "alice", func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil }), one, 401, wire.CodeUnauthorized, -1},
		{"not yet valid", hs, token(t, testSecret, "alice", func(c *jwt.RegisteredClaims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(5 * time.Minute)) }), one, 401, wire.CodeUnauthorized, -1},
		{"wrong audience", hs, token(t, testSecret, "alice", func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"other-service"} }), one, 401, wire.CodeUnauthorized, -1},
		{"wrong issuer", hs, token(t, testSecret, "alice", func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.example" }), one, 401, wire.CodeUnauthorized, -1},
		{"bad signature", hs, token(t, []byte("another-secret-another-secret-another"), "alice", nil), one, 401, wire.CodeUnauthorized, -1},
		{"tampered", hs, tamper(t, token(t, testSecret, "alice", nil)), one, 401, wire.CodeUnauthorized, -1},
		{"alg none", hs, noneTok, one, 401, wire.CodeUnauthorized, -1},
		{"EdDSA token on an HS256 server", hs, token(t, edKey, "alice", nil), one, 401, wire.CodeUnauthorized, -1},
		{"empty subject", hs, token(t, testSecret, "", nil), one, 401, wire.CodeUnauthorized, -1},
		{"oversized token", hs, token(t, testSecret, strings.Repeat("a", 100), func(c *jwt.RegisteredClaims) { c.ID = strings.Repeat("x", 5000) }), one, 401, wire.CodeUnauthorized, -1},
		{"garbage", hs, "not.a.jwt", one, 401, wire.CodeUnauthorized, -1},
		{"user_id of another user", hs, token(t, testSecret, "alice", nil), event("bob", "final", "🔥"), 403, wire.CodeForbidden, 0},
		{"another user in an array", hs, token(t, testSecret, "alice", nil),
			`[{"match_id":"final","emoji_type":"🔥"},{"user_id":"alice","match_id":"final","emoji_type":"🔥"},{"user_id":"bob","match_id":"final","emoji_type":"🔥"}]`, 403, wire.CodeForbidden, 2},
		{"HS256 token when a public key is configured", ed, confused, one, 401, wire.CodeUnauthorized, -1},
		{"HS256 token with the ES256 key's bytes", ed, token(t, must(ecKey.PublicKey.Bytes()), "alice", nil), one, 401, wire.CodeUnauthorized, -1},
		{"EdDSA token of another key", ed, token(t, otherEd, "alice", nil), one, 401, wire.CodeUnauthorized, -1},
		{"alg none on an EdDSA server", ed, noneTok, one, 401, wire.CodeUnauthorized, -1},
		{"missing header on an EdDSA server", ed, "", one, 401, wire.CodeUnauthorized, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := k.EndOffsets(t)
			r := tt.st.postAs(t, tt.tok, tt.body)
			checkError(t, r, tt.status, tt.code, tt.index)
			if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
			}
			if after := k.EndOffsets(t); !slices.Equal(before, after) {
				t.Errorf("end offsets moved from %v to %v", before, after)
			}
		})
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func must2v[A, B any](_ A, b B, err error) B {
	if err != nil {
		panic(err)
	}
	return b
}

// tamper changes the payload of a signed token, keeping its signature.
func tamper(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"alice"`, `"mallory"`, 1)))
	return strings.Join(parts, ".")
}

// TestAuthAccepts: a valid token of each algorithm is accepted; the
// events are stored as the subject's, with or without user_id.
func TestAuthAccepts(t *testing.T) {
	k := testenv.StartKafka(t, 4).Target()
	edPub, edKey := must2(ed25519.GenerateKey(rand.Reader))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	hs := startIngest(t, k, ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: testSecret}})
	pk := startIngest(t, k, ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, PublicKeys: []crypto.PublicKey{edPub, &ecKey.PublicKey},
		Audience: "reactions", Issuer: "https://auth.example"}})
	custom := func(c *jwt.RegisteredClaims) {
		c.Audience, c.Issuer = jwt.ClaimStrings{"other", "reactions"}, "https://auth.example"
	}
	tests := []struct {
		name, tok, body string
		st              *stack
		events          int
	}{
		{"HS256 without user_id", token(t, testSecret, "alice", nil), `{"match_id":"final","emoji_type":"🔥"}`, hs, 1},
		{"HS256 with the subject's user_id", token(t, testSecret, "alice", nil), event("alice", "final", "👏"), hs, 1},
		{"HS256 array", token(t, testSecret, "alice", nil), `[{"match_id":"final","emoji_type":"🔥"},{"user_id":"alice","match_id":"final","emoji_type":"😂"}]`, hs, 2},
		{"EdDSA", token(t, edKey, "alice", custom), `{"match_id":"final","emoji_type":"🔥"}`, pk, 1},
		{"ES256", token(t, ecKey, "alice", custom), `{"match_id":"final","emoji_type":"🔥"}`, pk, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := k.EndOffsets(t)
			r := tt.st.postAs(t, tt.tok, tt.body)
			if r.status != 202 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			msgs := readRange(t, k, before, k.EndOffsets(t))
			if len(msgs) != tt.events {
				t.Fatalf("%d records, want %d", len(msgs), tt.events)
			}
			for _, m := range msgs {
				var rec wire.Record
				if err := json.Unmarshal(m.Value, &rec); err != nil {
					t.Fatal(err)
				}
				if string(m.Key) != "alice" || rec.UserID != "alice" {
					t.Errorf("record key %q user_id %q, want alice", m.Key, rec.UserID)
				}
			}
		})
	}
	if r := hs.do(t, http.MethodGet, "/v1/config", "", nil); !strings.Contains(string(r.body), `"auth":"jwt"`) {
		t.Errorf("/v1/config does not say tokens are required: %s", r.body)
	}
}

// TestAuthLimitFollowsSubject: the per-user limit charges the token's
// subject; other user_ids in the body are refused, not counted apart.
func TestAuthLimitFollowsSubject(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	st := startIngest(t, k, ingest.Config{UserRate: 0.001, UserBurst: 3, IPRate: -1,
		Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: testSecret}})
	alice, bob := token(t, testSecret, "alice", nil), token(t, testSecret, "bob", nil)
	for i := range 3 {
		if r := st.postAs(t, alice, `{"match_id":"final","emoji_type":"🔥"}`); r.status != 202 {
			t.Fatalf("event %d: %d %s", i, r.status, r.body)
		}
	}
	before := k.EndOffsets(t)
	checkError(t, st.postAs(t, alice, `{"match_id":"final","emoji_type":"🔥"}`), 429, wire.CodeRateLimited, -1)
	for _, u := range []string{"alice-2", "rotated-1", "rotated-2"} {
		checkError(t, st.postAs(t, alice, event(u, "final", "🔥")), 403, wire.CodeForbidden, 0)
	}
	checkError(t, st.postAs(t, alice, `[{"match_id":"final","emoji_type":"🔥"},{"match_id":"final","emoji_type":"👏"}]`), 429, wire.CodeRateLimited, -1)
	if after := k.EndOffsets(t); !slices.Equal(before, after) {
		t.Errorf("end offsets moved from %v to %v", before, after)
	}
	if r := st.postAs(t, bob, `{"match_id":"final","emoji_type":"🔥"}`); r.status != 202 {
		t.Errorf("bob, another subject, was refused: %d %s", r.status, r.body)
	}
}

// TestAuthJWKS: keys from a JWKS file, picked by kid, and reloaded.
func TestAuthJWKS(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	edPub, edKey := must2(ed25519.GenerateKey(rand.Reader))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, map[string]crypto.PublicKey{"ed-1": edPub, "ec-1": &ecKey.PublicKey}, true)
	st := startIngest(t, k, ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, JWKSFile: path}})
	withKid := func(key any, kid string) string { return jwtWithKid(t, key, kid) }
	body := `{"match_id":"final","emoji_type":"🔥"}`
	for name, tok := range map[string]string{"ed-1": withKid(edKey, "ed-1"), "ec-1": withKid(ecKey, "ec-1"), "no kid": token(t, edKey, "alice", nil)} {
		if r := st.postAs(t, tok, body); r.status != 202 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	checkError(t, st.postAs(t, withKid(edKey, "ec-1"), body), 401, wire.CodeUnauthorized, -1)
	checkError(t, st.postAs(t, withKid(edKey, "unknown"), body), 401, wire.CodeUnauthorized, -1)

	// Rotation: the file now holds only a new key.
	newPub, newKey := must2(ed25519.GenerateKey(rand.Reader))
	writeJWKS(t, path, map[string]crypto.PublicKey{"ed-2": newPub}, false)
	if err := st.srv.ReloadAuthKeys(); err != nil {
		t.Fatal(err)
	}
	checkError(t, st.postAs(t, withKid(edKey, "ed-1"), body), 401, wire.CodeUnauthorized, -1)
	if r := st.postAs(t, withKid(newKey, "ed-2"), body); r.status != 202 {
		t.Errorf("rotated key: %d %s", r.status, r.body)
	}
	// A broken file keeps the keys in use.
	if err := os.WriteFile(path, []byte(`{"keys":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.srv.ReloadAuthKeys(); err == nil {
		t.Error("a broken JWKS file was loaded")
	}
	if r := st.postAs(t, withKid(newKey, "ed-2"), body); r.status != 202 {
		t.Errorf("after a failed reload: %d %s", r.status, r.body)
	}
}

func jwtWithKid(t *testing.T, key any, kid string) string {
	t.Helper()
	m := map[bool]jwt.SigningMethod{true: jwt.SigningMethodEdDSA, false: jwt.SigningMethodES256}[isEd(key)]
	tk := jwt.NewWithClaims(m, jwt.RegisteredClaims{Subject: "alice", Audience: jwt.ClaimStrings{"emostream"}, Issuer: "emostream",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))})
	tk.Header["kid"] = kid
	return must(tk.SignedString(key))
}

func isEd(key any) bool { _, ok := key.(ed25519.PrivateKey); return ok }

// writeJWKS writes keys as a JWKS file, with an RSA key (which ingest
// skips) when withRSA.
func writeJWKS(t *testing.T, path string, keys map[string]crypto.PublicKey, withRSA bool) {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	var out []map[string]string
	for kid, k := range keys {
		switch k := k.(type) {
		case ed25519.PublicKey:
			out = append(out, map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(k), "kid": kid, "use": "sig"})
		case *ecdsa.PublicKey:
			b := must(k.Bytes())
			out = append(out, map[string]string{"kty": "EC", "crv": "P-256", "x": b64(b[1:33]), "y": b64(b[33:]), "kid": kid, "alg": "ES256"})
		}
	}
	if withRSA {
		out = append(out, map[string]string{"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "rsa-1"})
	}
	b, _ := json.Marshal(map[string]any{"keys": out})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuthConfig: New refuses configurations that would weaken tokens.
func TestAuthConfig(t *testing.T) {
	edPub, _ := must2(ed25519.GenerateKey(rand.Reader))
	dir := t.TempDir()
	priv := filepath.Join(dir, "private.json")
	os.WriteFile(priv, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`), 0o600)
	loopback := must(net.Listen("tcp", "127.0.0.1:0"))
	defer loopback.Close()
	public := addrListener{Listener: loopback, addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080}}
	tests := []struct {
		name string
		cfg  ingest.Config
	}{
		{"secret and public key", ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: testSecret, PublicKeys: []crypto.PublicKey{edPub}}}},
		{"short secret", ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: []byte("short")}}},
		{"no key", ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT}}},
		{"private key in JWKS", ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, JWKSFile: priv}}},
		{"missing JWKS", ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, JWKSFile: filepath.Join(dir, "nope.json")}}},
		{"unknown mode", ingest.Config{Auth: ingest.AuthConfig{Mode: "basic"}}},
		{"non-loopback without keys", ingest.Config{Listener: public}},
		{"sessions with auth none", ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthNone}, Session: ingest.SessionConfig{Enabled: true}}},
		{"bad CORS origin", ingest.Config{CORSOrigins: []string{"example.com"}}},
		{"bad WebSocket URL", ingest.Config{WebSocketURLs: []string{"ws://x; script-src *"}}},
		{"video origin with a path", ingest.Config{VideoOrigins: []string{"https://cdn.example/live"}}},
		{"video origin wildcard", ingest.Config{VideoOrigins: []string{"*"}}},
		{"video origin injecting", ingest.Config{VideoOrigins: []string{"https://cdn.example; script-src *"}}},
		{"video origin of a wildcard host", ingest.Config{VideoOrigins: []string{"https://*.example"}}},
		{"video origin with a query", ingest.Config{VideoOrigins: []string{"https://cdn.example?"}}},
		{"video origin without a scheme", ingest.Config{VideoOrigins: []string{"cdn.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Listener == nil {
				tt.cfg.Listener = loopback
			}
			if _, err := ingest.New(tt.cfg); !errors.Is(err, ingest.ErrConfig) {
				t.Errorf("New: %v, want ErrConfig", err)
			}
		})
	}
	if _, err := ingest.New(ingest.Config{Listener: public, Auth: ingest.AuthConfig{HMACSecret: testSecret}}); err != nil {
		t.Errorf("non-loopback with a secret: %v", err)
	}
}

// addrListener reports another address than the one it listens on.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }
