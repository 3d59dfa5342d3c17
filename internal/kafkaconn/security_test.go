package kafkaconn

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emostream/emostream/internal/setting"
)

func TestBuildRefusesMisconfiguration(t *testing.T) {
	dir := t.TempDir()
	empty, pass, twoLines, notPEM := filepath.Join(dir, "empty"), filepath.Join(dir, "pass"), filepath.Join(dir, "two"), filepath.Join(dir, "ca.pem")
	for name, body := range map[string]string{empty: "\n", pass: "s3cret\n", twoLines: "a\nb\n", notPEM: "hello"} {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		s    Security
		want string // in the error
		set  string // the setting it names
	}{
		{"unknown mechanism", Security{SASL: "gssapi", User: "u", Password: "p"}, `SASL "gssapi": unknown SASL mechanism`, "SASL"},
		{"password without user", Security{SASL: "scram-sha-256", Password: "p"}, "without a user", "User"},
		{"user without password", Security{SASL: "scram-sha-512", User: "u"}, "without a password", "Password"},
		{"password without mechanism", Security{User: "u", Password: "p"}, "without a SASL mechanism", "SASL"},
		{"password and password file", Security{SASL: "scram-sha-256", User: "u", Password: "p", PasswordFile: pass}, "give one", "PasswordFile"},
		{"plain without TLS", Security{SASL: "plain", User: "u", Password: "p"}, "in clear", "TLS"},
		{"cert without key", Security{CertFile: "c.pem"}, "both its certificate and its key", "KeyFile"},
		{"skip-verify with CA", Security{InsecureSkipVerify: true, CAFile: notPEM}, "would not be checked", "InsecureSkipVerify"},
		{"missing CA file", Security{TLS: true, CAFile: missing}, "missing.pem: no such file", "CAFile"},
		{"CA file not PEM", Security{CAFile: notPEM}, "holds no PEM certificate", "CAFile"},
		{"missing client cert", Security{CertFile: missing, KeyFile: missing}, "loading the client certificate", "CertFile"},
		{"missing password file", Security{SASL: "scram-sha-256", User: "u", PasswordFile: missing}, "reading the password file", "PasswordFile"},
		{"empty password file", Security{SASL: "scram-sha-256", User: "u", PasswordFile: empty}, "want one non-empty line", "PasswordFile"},
		{"two-line password file", Security{SASL: "scram-sha-256", User: "u", PasswordFile: twoLines}, "want one non-empty line", "PasswordFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.s.Build()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrConfig saying %q", err, tt.want)
			}
			if se := (*setting.Error)(nil); !errors.As(err, &se) || se.Name != tt.set {
				t.Errorf("%v: want it to name the setting %s", err, tt.set)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("s3cret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    Security
		want string // Conn.String
	}{
		{"zero", Security{}, "plaintext"},
		{"tls", Security{TLS: true}, "TLS"},
		{"server name implies tls", Security{ServerName: "kafka.example.com"}, "TLS"},
		{"skip verify", Security{InsecureSkipVerify: true}, "TLS (broker certificates NOT verified)"},
		{"plain over tls", Security{TLS: true, SASL: "PLAIN", User: "u", Password: "p"}, "TLS, SASL PLAIN as u"},
		{"scram-sha-256", Security{SASL: "scram-sha-256", User: "u", PasswordFile: pass}, "plaintext, SASL SCRAM-SHA-256 as u"},
		{"scram-sha-512", Security{TLS: true, SASL: "Scram-Sha-512", User: "u", Password: "p"}, "TLS, SASL SCRAM-SHA-512 as u"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.s.Build()
			if err != nil {
				t.Fatal(err)
			}
			if got := c.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if c.TLS != nil && c.TLS.ServerName != tt.s.ServerName {
				t.Errorf("server name %q, want %q", c.TLS.ServerName, tt.s.ServerName)
			}
		})
	}
}

func TestPasswordFile(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("s3cret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Security{PasswordFile: pass}.password()
	if got != "s3cret" || err != nil {
		t.Fatalf("got %q, %v; want s3cret", got, err)
	}
}
