package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// MaxPEMFile bounds what is read of a PEM file.
const MaxPEMFile = 1 << 20

// NewIssuer is the CA of cert and its private key key.
func NewIssuer(cert *x509.Certificate, key crypto.Signer) (*Issuer, error) {
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("pki: the key is not the certificate's")
	}
	return &Issuer{Cert: cert, Key: key}, nil
}

// ReadCACert reads the first certificate of path, a CA's.
func ReadCACert(path string) (*x509.Certificate, error) {
	blocks, err := readPEM(path, nil)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(blocks, func(b *pem.Block) bool { return b.Type == "CERTIFICATE" })
	if i < 0 {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(blocks[i].Bytes)
	switch {
	case err != nil:
		return nil, err
	case !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0:
		return nil, fmt.Errorf("%q is not a CA's certificate: it may not sign certificates", cert.Subject.CommonName)
	}
	return cert, nil
}

// ReadCAKey reads the first private key of path, a file group and others
// have no access to; an encrypted key is refused.
func ReadCAKey(path string) (crypto.Signer, error) {
	blocks, err := readPEM(path, func(st fs.FileInfo) error {
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return fmt.Errorf("mode %04o lets group or others read the CA's key: chmod 0600 it (and consider whether it leaked)", perm)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		var key any
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, errors.New("the key is encrypted: give it unencrypted, on a machine you trust")
		case b.Type == "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case b.Type == "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case b.Type == "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		if s, ok := key.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return nil, errors.New("no PEM private key")
}

// readPEM returns the PEM blocks of a file of at most MaxPEMFile bytes,
// after check (if not nil) accepted the open file's mode.
func readPEM(path string, check func(fs.FileInfo) error) ([]*pem.Block, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if check != nil {
		st, err := file.Stat()
		if err != nil {
			return nil, err
		}
		if err := check(st); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(file, MaxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPEMFile {
		return nil, fmt.Errorf("larger than %d bytes: not a PEM file", MaxPEMFile)
	}
	var blocks []*pem.Block
	for {
		p, rest := pem.Decode(b)
		if p == nil {
			return blocks, nil
		}
		blocks, b = append(blocks, p), rest
	}
}
