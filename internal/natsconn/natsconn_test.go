package natsconn_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/internal/testenv"
)

func TestOptionsValidation(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	certs := testenv.NewCerts(t)
	cases := []struct {
		name string
		o    natsconn.Options
		ok   bool
	}{
		{"anonymous", natsconn.Options{}, true},
		{"user and password file", natsconn.Options{User: "bridge", PasswordFile: pw}, true},
		{"user and password", natsconn.Options{User: "bridge", Password: "x"}, true},
		{"user without password", natsconn.Options{User: "bridge"}, false},
		{"password without user", natsconn.Options{Password: "x"}, false},
		{"empty password file", natsconn.Options{User: "bridge", PasswordFile: empty}, false},
		{"missing password file", natsconn.Options{User: "bridge", PasswordFile: filepath.Join(dir, "nope")}, false},
		{"missing nkey seed", natsconn.Options{NKeyFile: filepath.Join(dir, "nope")}, false},
		{"missing creds", natsconn.Options{CredsFile: filepath.Join(dir, "nope")}, false},
		{"CA", natsconn.Options{CAFile: certs.CAFile}, true},
		{"missing CA", natsconn.Options{CAFile: filepath.Join(dir, "nope")}, false},
		{"client certificate", natsconn.Options{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}, true},
		{"certificate without key", natsconn.Options{CertFile: certs.ClientCertFile}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.o.NATSOptions()
			if got := err == nil; got != c.ok {
				t.Fatalf("got %v, want ok %v", err, c.ok)
			}
			if err != nil && !errors.Is(err, natsconn.ErrOptions) {
				t.Errorf("error %v does not wrap ErrOptions", err)
			}
		})
	}
}

// TestNKey: a stage with an NKEY seed file connects to a server that lists
// its public key, and a client without it is refused.
func TestNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	seedFile := filepath.Join(t.TempDir(), "bridge.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10e9) {
		t.Fatal("server not ready")
	}
	nc, err := natsconn.Options{URL: s.ClientURL(), NKeyFile: seedFile}.Connect()
	if err != nil {
		t.Fatalf("nkey: %v", err)
	}
	nc.Close()
	if nc, err := (natsconn.Options{URL: s.ClientURL()}).Connect(); err == nil {
		nc.Close()
		t.Error("anonymous client accepted")
	}
}

// Waiting says what is waited for and why while Until fails, and nothing
// once it succeeded.
func TestWaiting(t *testing.T) {
	w := natsconn.Waiting{For: "stage: waiting for NATS"}
	if err := w.Err(); err != nil {
		t.Fatalf("zero Waiting: %v", err)
	}
	cause := errors.New("no servers available")
	w.Set(cause)
	if err := w.Err(); !errors.Is(err, cause) || err.Error() != "stage: waiting for NATS: no servers available" {
		t.Fatalf("waiting: %v", err)
	}
	w.Set(nil)
	if err := w.Err(); err != nil {
		t.Fatalf("after success: %v", err)
	}
}
