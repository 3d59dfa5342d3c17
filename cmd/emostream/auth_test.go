package main

import (
	"bytes"
	"context"
	"net"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ingest.New(ingest.Config{Listener: ln, KafkaBrokers: []string{k.Addr()}, Logger: testenv.Logger(t),
		Auth: ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := ingest.SignToken(secret, "cli-user", ingest.DefaultJWTAudience, ingest.DefaultJWTIssuer, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	waitReady(t, url)
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
