package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/pki"
)

// Certs is a throw-away certificate authority and two certificates it
// signed, a server's and a client's (each for 127.0.0.1, ::1 and
// localhost, and good for clients too), written as PEM files to a temp dir of the
// test by the signer of "emostream certs" (internal/pki).
type Certs struct {
	CAFile                        string
	ServerCertFile, ServerKeyFile string
	ClientCertFile, ClientKeyFile string
	ca                            *x509.CertPool
}

// certsValid is how long the tests' certificates are valid.
const certsValid = 24 * time.Hour

// NewCerts makes a CA and its server and client certificates.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewCA(pki.Request{CommonName: "emostream test CA", Now: now, Valid: certsValid})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// Both are good for loopback servers and for clients: a leaf serves
	// its own leaves with the certificate it shows its hub (leaf.pem in
	// deploy/leaf-a.conf; the tests give it the client's).
	loopback := pki.Request{Now: now, Valid: certsValid, Server: true, Client: true,
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	files := ca.Files("ca")
	for _, name := range []string{"server", "client"} {
		r := loopback
		r.CommonName = "emostream test " + name
		c, err := ca.Sign(r)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		files = append(files, c.Files(name)...)
	}
	dir := t.TempDir()
	if _, err := pki.Write(dir, files, false); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c := &Certs{CAFile: filepath.Join(dir, "ca.pem"), ca: x509.NewCertPool()}
	c.ca.AddCert(ca.Cert)
	c.ServerCertFile, c.ServerKeyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	c.ClientCertFile, c.ClientKeyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	return c
}

// ServerTLS is a server configuration with the server certificate; with
// requireClient, clients must show a certificate the CA signed.
func (c *Certs) ServerTLS(t testing.TB, requireClient bool) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(c.ServerCertFile, c.ServerKeyFile)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClient {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, c.ca
	}
	return cfg
}
