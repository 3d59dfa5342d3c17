package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/pki"
)

// FuzzReadCA: whatever the files of a given CA hold (emostream certs
// --ca-cert and --ca-key), reading them never panics, and a CA read back
// with its key signs a certificate that verifies against it.
func FuzzReadCA(f *testing.F) {
	ca, other := newCA(f, 24*time.Hour), newCA(f, 24*time.Hour)
	leaf, err := ca.Sign(pki.Request{CommonName: "leaf", Now: now, Valid: time.Hour, Client: true})
	if err != nil {
		f.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	for _, s := range [][2][]byte{
		{ca.CertPEM, ca.KeyPEM},
		{append(leaf.CertPEM, ca.CertPEM...), append([]byte("junk\n"), ca.KeyPEM...)},
		{ca.CertPEM, other.KeyPEM},
		{leaf.CertPEM, leaf.KeyPEM},
		{ca.CertPEM, block("EC PRIVATE KEY", ecDER)},
		{ca.CertPEM, block("RSA PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00})},
		{ca.CertPEM, block("ENCRYPTED PRIVATE KEY", []byte{1})},
		{ca.CertPEM[:len(ca.CertPEM)/2], ca.KeyPEM[:len(ca.KeyPEM)/2]},
		{block("CERTIFICATE", nil), block("PRIVATE KEY", nil)},
		{nil, nil},
		{[]byte("\x00"), []byte("\xef\xbb\xbf")},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
		if os.WriteFile(certFile, certPEM, 0o644) != nil || os.WriteFile(keyFile, keyPEM, 0o600) != nil {
			t.Fatal("writing the inputs")
		}
		cert, certErr := pki.ReadCACert(certFile)
		key, keyErr := pki.ReadCAKey(keyFile)
		if certErr != nil || keyErr != nil {
			return
		}
		if !cert.IsCA {
			t.Fatalf("read %q as a CA's certificate", cert.Subject.CommonName)
		}
		issuer, err := pki.NewIssuer(cert, key)
		if err != nil {
			return
		}
		c, err := issuer.Sign(pki.Request{CommonName: "fuzz", Now: cert.NotBefore.Add(time.Second), Valid: time.Second, Client: true})
		if err != nil {
			return // a CA of a second, an expired one: refused, with why
		}
		roots := x509.NewCertPool()
		roots.AddCert(cert)
		opts := x509.VerifyOptions{Roots: roots, CurrentTime: c.Cert.NotAfter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if _, err := c.Cert.Verify(opts); err != nil {
			t.Fatalf("signed by the CA read back, but: %v", err)
		}
	})
}
