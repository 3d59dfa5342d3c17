package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
)

// TestExposedWithoutCredentialsRefused: hub and up refuse a client port
// off loopback without --nats-auth-dir, before listening on anything.
func TestExposedWithoutCredentialsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"hub", "--nats", "0.0.0.0:0", "--leafnodes", "127.0.0.1:0", "--monitor", "", "--data-dir", t.TempDir()},
		{"hub", "--nats", ":0", "--leafnodes", "127.0.0.1:0", "--monitor", "", "--data-dir", t.TempDir()},
		append(quietUp(t), "--nats", "0.0.0.0:0"),
	} {
		_, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "not a loopback address") || !strings.Contains(err.Error(), "--nats-auth-dir") {
			t.Errorf("%v: got %v, want a refusal naming --nats-auth-dir", args, err)
		}
	}
}

// TestStageCredentialFlags: the match command reaches a hub with stage
// users through --nats-user and --nats-password-file,
// over TLS with --nats-ca, --nats-cert and --nats-key; without credentials
// or TLS it is refused (another stage's user: fanout's TestStageUsersRefused).
func TestStageCredentialFlags(t *testing.T) {
	dir := t.TempDir()
	passwords, err := readPasswords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "admin.password")); err != nil || strings.TrimSpace(string(b)) != passwords[fanout.UserAdmin] {
		t.Fatalf("admin.password: %q %v", b, err)
	}
	certs := testenv.NewCerts(t)
	tls := fanout.TLSConfig{Cert: certs.ServerCertFile, Key: certs.ServerKeyFile, CA: certs.CAFile, Verify: true}
	h, err := fanout.NewHub(fanout.HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
		Passwords: passwords, ClientTLS: tls, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	base := []string{"--nats", h.ClientURL(), "--nats-ca", certs.CAFile, "--nats-cert", certs.ClientCertFile, "--nats-key", certs.ClientKeyFile}
	admin := append([]string{"--nats-user", "admin", "--nats-password-file", filepath.Join(dir, "admin.password")}, base...)
	if out, err := runCLI(t, append([]string{"match", "create", "--id", "final", "--live"}, admin...)...); err != nil || !strings.Contains(out, "final is live") {
		t.Fatalf("admin create: %q %v", out, err)
	}
	if out, err := runCLI(t, append([]string{"match", "ls"}, admin...)...); err != nil || !strings.Contains(out, "final") {
		t.Fatalf("admin ls: %q %v", out, err)
	}
	refused := map[string][]string{
		"no credentials":  base,
		"no TLS":          {"--nats", h.ClientURL(), "--nats-user", "admin", "--nats-password-file", filepath.Join(dir, "admin.password")},
		"no password":     append([]string{"--nats-user", "admin"}, base...),
		"missing CA file": append(admin, "--nats-ca", filepath.Join(dir, "nope.pem")),
	}
	for name, flags := range refused {
		if out, err := runCLI(t, append([]string{"match", "start", "--id", "final"}, flags...)...); err == nil {
			t.Errorf("%s: accepted: %q", name, out)
		}
	}
}
