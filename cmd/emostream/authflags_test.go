package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// TestSendWithTokens: against an ingest that requires tokens, send is
// refused without one, and accepted with --token or a signing secret.
func TestSendWithTokens(t *testing.T) {
	secret := []byte("cmd-test-secret-cmd-test-secret-0123")
	k := testenv.StartKafka(t, 1)
	url := startIngest(t, ingest.Config{KafkaBrokers: []string{k.Addr()},
		Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: secret}})
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := ingest.SignToken(secret, "cli-user", ingest.DefaultJWTAudience, ingest.DefaultJWTIssuer, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		ok   bool
		want string
	}{
		{"no token", nil, false, "401 unauthorized"},
		{"token", []string{"--token", tok}, true, "202 accepted 1"},
		{"secret, three users", []string{"--jwt-secret-file", secretFile, "--count", "6", "--users", "3"}, true, "202 accepted 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
			err := dispatch(context.Background(), env, append([]string{"send", "--target", url, "--match", "m"}, tt.args...))
			if (err == nil) != tt.ok || !strings.Contains(out.String(), tt.want) {
				t.Errorf("send: %v\n%s", err, out.String())
			}
		})
	}
}
