package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"
)

// Bounds of a certificate's validity.
const (
	// MaxValidity is the longest validity the signer gives: 20 years.
	MaxValidity = 20 * 365 * 24 * time.Hour
	// Backdate starts every certificate this much before Request.Now, for
	// machines whose clocks are a little behind.
	Backdate = 5 * time.Minute
)

// ErrValidity is the error of a validity out of (0, MaxValidity].
var ErrValidity = errors.New("pki: a validity of more than zero and at most 20 years")

// Request is what a certificate says. Its zero Now is time.Now.
type Request struct {
	CommonName string
	// Now and Valid: the certificate is valid from Now less Backdate until
	// Now plus Valid, which is more than zero and at most MaxValidity.
	Now   time.Time
	Valid time.Duration
	// DNSNames and IPs are the names a server certificate is good for.
	DNSNames []string
	IPs      []net.IP
	// Server and Client say what the certificate authenticates: TLS
	// servers (serverAuth), clients (clientAuth), or both.
	Server, Client bool
}

// Issuer is a certificate and its private key; a CA's signs.
type Issuer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Issued is a new key and its certificate, with their PEM encodings: the
// certificate, and the key in PKCS#8 ("PRIVATE KEY"), unencrypted.
type Issued struct {
	Issuer
	CertPEM, KeyPEM []byte
}

// NewCA makes a self-signed CA that signs certificates, not other CAs.
func NewCA(r Request) (*Issued, error) {
	tmpl, err := r.template()
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.MaxPathLenZero = true, true
	tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageCertSign|x509.KeyUsageCRLSign, nil
	return issue(tmpl, nil)
}

// Sign makes a key and a certificate for r that ca signs; the CA must be
// valid for all of the certificate's validity.
func (ca *Issuer) Sign(r Request) (*Issued, error) {
	r.Now = r.now()
	tmpl, err := r.template()
	if err != nil {
		return nil, err
	}
	if err := ca.Covers(r.Now, tmpl.NotAfter); err != nil {
		return nil, err
	}
	return issue(tmpl, ca)
}

// Covers says why ca cannot sign a certificate valid from now until
// notAfter, or nil if it can.
func (ca *Issuer) Covers(now, notAfter time.Time) error {
	c := ca.Cert
	switch {
	case now.Before(c.NotBefore) || now.After(c.NotAfter):
		return fmt.Errorf("the CA is valid from %s until %s, not now", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	case notAfter.After(c.NotAfter):
		return fmt.Errorf("the CA is valid until %s, before the certificates would expire (%s): sign for less time, or make a new CA",
			c.NotAfter.Format(time.DateOnly), notAfter.Format(time.DateOnly))
	}
	return nil
}

// template is r's certificate template, its validity checked.
func (r Request) template() (*x509.Certificate, error) {
	if r.Valid <= 0 || r.Valid > MaxValidity {
		return nil, fmt.Errorf("%w: %s", ErrValidity, r.Valid)
	}
	now := r.now().Truncate(time.Second) // what a certificate keeps: a CA and a certificate as long as it, from one Now, end together
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: r.CommonName, Organization: []string{"EmoStream"}},
		NotBefore: now.Add(-Backdate), NotAfter: now.Add(r.Valid),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
		DNSNames: r.DNSNames, IPAddresses: r.IPs,
	}
	if r.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if r.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	return tmpl, nil
}

// now is r.Now, or the time if it is zero.
func (r Request) now() time.Time {
	if r.Now.IsZero() {
		return time.Now()
	}
	return r.Now
}

// issue makes a P-256 key and its certificate from tmpl, signed by ca
// (nil: self-signed). Its serial number is random (crypto/x509 picks it).
func issue(tmpl *x509.Certificate, ca *Issuer) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{Issuer: Issuer{Cert: cert, Key: key},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}),
	}, nil
}

// Files are the files of c named name: name.pem (mode 0644) and
// name-key.pem (mode 0600).
func (c *Issued) Files(name string) []File {
	return []File{{name + ".pem", c.CertPEM, 0o644}, {name + "-key.pem", c.KeyPEM, 0o600}}
}
