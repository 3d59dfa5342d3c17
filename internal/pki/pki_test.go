package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/pki"
)

// now has a fraction of a second, which certificates do not keep.
var now = time.Date(2026, 12, 7, 23, 59, 59, 999_999_999, time.UTC)

func newCA(t testing.TB, valid time.Duration) *pki.Issued {
	t.Helper()
	ca, err := pki.NewCA(pki.Request{CommonName: "test CA", Now: now, Valid: valid})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestSign: a CA that signs certificates but no other CA, and the server
// and client certificates it signs: P-256 keys in PKCS#8, the names and
// key usages asked for, a certificate as long as its CA's.
func TestSign(t *testing.T) {
	ca := newCA(t, 24*time.Hour)
	if c := ca.Cert; !c.IsCA || !c.MaxPathLenZero || c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || !c.NotBefore.Equal(now.Add(-pki.Backdate).Truncate(time.Second)) {
		t.Errorf("CA: IsCA %v, MaxPathLenZero %v, KeyUsage %v, NotBefore %v", c.IsCA, c.MaxPathLenZero, c.KeyUsage, c.NotBefore)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	server, err := ca.Sign(pki.Request{CommonName: "localhost", Now: now, Valid: 24 * time.Hour,
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv6loopback}, Server: true, Client: true})
	if err != nil {
		t.Fatalf("a server certificate as long as the CA: %v", err)
	}
	client, err := ca.Sign(pki.Request{CommonName: "stages", Now: now, Valid: time.Hour, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Minute)
	for _, tt := range []struct {
		name string
		c    *pki.Issued
		opts x509.VerifyOptions
		ok   bool
	}{
		{"server for localhost", server, x509.VerifyOptions{DNSName: "localhost"}, true},
		{"server for ::1", server, x509.VerifyOptions{DNSName: "::1"}, true},
		{"server as a client", server, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, true},
		{"server for another name", server, x509.VerifyOptions{DNSName: "example.com"}, false},
		{"client", client, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, true},
		{"client as a server", client, x509.VerifyOptions{}, false},
	} {
		tt.opts.Roots, tt.opts.CurrentTime = roots, at
		if _, err := tt.c.Cert.Verify(tt.opts); (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	for _, c := range []*pki.Issued{ca, server, client} {
		if k, ok := c.Cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Errorf("%s: key %T, want ECDSA P-256", c.Cert.Subject.CommonName, c.Cert.PublicKey)
		}
		if b, _ := pem.Decode(c.KeyPEM); b == nil || b.Type != "PRIVATE KEY" {
			t.Errorf("%s: key PEM %q, want PKCS#8", c.Cert.Subject.CommonName, c.KeyPEM)
		} else if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
			t.Error(err)
		}
	}
}

// TestSignRefuses: validities out of (0, 20 years], a certificate that
// outlasts its CA and a CA not yet valid are refused.
func TestSignRefuses(t *testing.T) {
	ca := newCA(t, 48*time.Hour)
	if _, err := pki.NewCA(pki.Request{Now: now, Valid: pki.MaxValidity + time.Second}); !errors.Is(err, pki.ErrValidity) {
		t.Errorf("a CA for 20 years and a second: %v, want ErrValidity", err)
	}
	for _, tt := range []struct {
		name string
		r    pki.Request
		want string
	}{
		{"zero validity", pki.Request{Now: now}, "pki: a validity of more than zero"},
		{"negative validity", pki.Request{Now: now, Valid: -time.Hour}, "pki: a validity of more than zero"},
		{"over 20 years", pki.Request{Now: now, Valid: pki.MaxValidity + time.Second}, "pki: a validity of more than zero"},
		{"past the CA", pki.Request{Now: now, Valid: 48*time.Hour + time.Second}, "the CA is valid until 2026-12-09, before the certificates would expire"},
		{"before the CA", pki.Request{Now: now.Add(-time.Hour), Valid: time.Hour}, "not now"},
	} {
		if _, err := ca.Sign(tt.r); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// files is dir's files: names, modes and contents.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		info, _ := e.Info()
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		got = append(got, e.Name()+" "+info.Mode().String()+" "+string(data))
	}
	return got
}

// TestWrite: files are written with their modes (a key 0600 even over a
// file of 0644), all or nothing: a file that exists, or a directory in
// the way of --force, fails the run and leaves what was there.
func TestWrite(t *testing.T) {
	pair := []pki.File{{"a.pem", []byte("cert"), 0o644}, {"a-key.pem", []byte("key"), 0o600}}
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := pki.Write(dir, pair, false); err != nil {
		t.Fatal(err)
	}
	if got, want := files(t, dir), []string{"a-key.pem -rw------- key", "a.pem -rw-r--r-- cert"}; !slices.Equal(got, want) {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode())
	}
	if err := os.Chmod(filepath.Join(dir, "a-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "b.pem"), 0o700); err != nil {
		t.Fatal(err)
	}
	before := files(t, dir)
	for _, replace := range []bool{false, true} {
		more := []pki.File{{"c.pem", []byte("new"), 0o644}, {"a-key.pem", []byte("new"), 0o600}, {"b.pem", []byte("new"), 0o644}}
		if _, err := pki.Write(dir, more, replace); err == nil {
			t.Errorf("replace %v: wrote over a file, or a directory", replace)
		}
		if after := files(t, dir); !slices.Equal(after, before) {
			t.Errorf("replace %v: left %q, want %q", replace, after, before)
		}
	}
	if _, err := pki.Write(dir, pair[1:], true); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Contains(got, "a-key.pem -rw------- key") {
		t.Errorf("after replace: %q; want a-key.pem mode 0600", got)
	}
}

// TestReadCA: a CA written to files reads back and signs; a key others
// may read, and another CA's key, are refused.
func TestReadCA(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, time.Hour), newCA(t, time.Hour)
	if _, err := pki.Write(dir, append(ca.Files("ca"), other.Files("other")...), false); err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ReadCACert(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ReadCAKey(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	read, err := pki.NewIssuer(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := read.Sign(pki.Request{Now: now, Valid: time.Minute, Client: true}); err != nil {
		t.Errorf("the CA read back: %v", err)
	}
	if _, err := pki.NewIssuer(cert, other.Key); err == nil {
		t.Error("another CA's key: accepted")
	}
	if _, err := pki.ReadCACert(filepath.Join(dir, "ca-key.pem")); err == nil || err.Error() != "no PEM certificate" {
		t.Errorf("a key as the certificate: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "ca-key.pem"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.ReadCAKey(filepath.Join(dir, "ca-key.pem")); err == nil || !strings.Contains(err.Error(), "mode 0640 lets group or others read") {
		t.Errorf("a key of mode 0640: %v", err)
	}
}
