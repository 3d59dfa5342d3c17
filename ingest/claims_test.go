package ingest_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// rawToken signs HS256 claims given as JSON values, so that a test can
// write exp, nbf and iat in forms golang-jwt's own types never produce.
func rawToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"sub": "alice", "aud": ingest.DefaultJWTAudience, "iss": ingest.DefaultJWTIssuer}
	for k, v := range claims {
		c[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The date claims are JSON numbers only: exp, nbf or iat as a (numeric)
// string, or out of range, is refused; so is a token issued further in the
// future than the clock skew (30 s). Numbers with a fraction are fine.
func TestAuthDateClaims(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	st := startIngest(t, k, ingest.Config{Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: testSecret}})
	now := time.Now().Unix()
	exp := now + 3600
	num := func(n int64) string { return fmt.Sprint(n) }
	for _, tt := range []struct {
		name   string
		claims map[string]any
		status int
		reason string
	}{
		{"numbers", map[string]any{"exp": exp, "nbf": now - 60, "iat": now}, 202, ""},
		{"fractions", map[string]any{"exp": float64(exp) + 0.5, "iat": float64(now) - 0.25}, 202, ""},
		{"iat within the skew", map[string]any{"exp": exp, "iat": now + 10}, 202, ""},
		{"exp as a numeric string", map[string]any{"exp": num(exp)}, 401, "malformed"},
		{"nbf as a numeric string", map[string]any{"exp": exp, "nbf": num(now - 60)}, 401, "malformed"},
		{"iat as a numeric string", map[string]any{"exp": exp, "iat": num(now)}, 401, "malformed"},
		{"exp as a date string", map[string]any{"exp": time.Unix(exp, 0).UTC().Format(time.RFC3339)}, 401, "malformed"},
		{"exp as true", map[string]any{"exp": true}, 401, "malformed"},
		{"exp negative", map[string]any{"exp": -1}, 401, "malformed"},
		{"exp past year 9999", map[string]any{"exp": 253402300800}, 401, "malformed"},
		{"exp 1e300", map[string]any{"exp": 1e300}, 401, "malformed"},
		{"iat in the future", map[string]any{"exp": exp, "iat": now + 300}, 401, "issued_in_future"},
		{"iat in year 9999", map[string]any{"exp": exp, "iat": 253402300799}, 401, "issued_in_future"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := authFailures(t, st, tt.reason)
			r := st.postAs(t, rawToken(t, tt.claims), `{"match_id":"final","emoji_type":"🔥"}`)
			if tt.status == 202 {
				if r.status != 202 {
					t.Fatalf("%d %s, want 202", r.status, r.body)
				}
				return
			}
			checkError(t, r, tt.status, wire.CodeUnauthorized, -1)
			if after := authFailures(t, st, tt.reason); after != before+1 {
				t.Errorf("auth_failures_total{reason=%q} went from %v to %v, want one more", tt.reason, before, after)
			}
		})
	}
}

// authFailures reads emostream_ingest_auth_failures_total{reason}.
func authFailures(t testing.TB, st *stack, reason string) float64 {
	t.Helper()
	return metricValue(t, st, `emostream_ingest_auth_failures_total{reason="`+reason+`"}`)
}

// seriesValue finds one series in a Prometheus text exposition.
func seriesValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
