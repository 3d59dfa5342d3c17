package ingest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// Bounds of a JWKS file.
const (
	MaxJWKSBytes = 1 << 20
	MaxJWKSKeys  = 100
)

// jwk is one JSON Web Key (RFC 7517) of the kinds ingest accepts.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// loadJWKS adds the signature keys of a JWKS file to ks. Keys of other
// types (RSA, other curves) and encryption keys are skipped; a private key
// in the file is an error, and so is a file without any usable key.
func loadJWKS(ks *keySet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > MaxJWKSBytes {
		return fmt.Errorf("%s is larger than %d bytes", path, MaxJWKSBytes)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return fmt.Errorf("%s: not a JWKS: %w", path, err)
	}
	if len(set.Keys) > MaxJWKSKeys {
		return fmt.Errorf("%s has %d keys, more than %d", path, len(set.Keys), MaxJWKSKeys)
	}
	n := 0
	for i, k := range set.Keys {
		pub, err := k.publicKey()
		if err != nil {
			return fmt.Errorf("%s: key %d (kid %q): %w", path, i, k.Kid, err)
		}
		if pub == nil {
			continue
		}
		if err := ks.add(k.Kid, pub); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s has no Ed25519 or P-256 signature key", path)
	}
	return nil
}

// publicKey is k's key, nil for a key ingest does not use.
func (k jwk) publicKey() (crypto.PublicKey, error) {
	if k.D != "" {
		return nil, errors.New("a private key: publish only public keys")
	}
	if k.Use == "enc" {
		return nil, nil
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	switch {
	case k.Kty == "OKP" && k.Crv == "Ed25519" && (k.Alg == "" || k.Alg == algEdDSA):
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("an Ed25519 key has 32 bytes")
		}
		return ed25519.PublicKey(x), nil
	case k.Kty == "EC" && k.Crv == "P-256" && (k.Alg == "" || k.Alg == algES256):
		y, err := base64.RawURLEncoding.DecodeString(k.Y)
		if err != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("a P-256 key has 32-byte x and y")
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	}
	return nil, nil
}

// ParsePublicKeyPEM parses a PEM "PUBLIC KEY" (PKIX) of an Ed25519 or P-256
// key, as --jwt-public-key takes it.
func ParsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if _, err := algOf(k); err != nil {
		return nil, err
	}
	return k, nil
}

// ParsePrivateKeyPEM parses a PEM "PRIVATE KEY" (PKCS #8) or "EC PRIVATE
// KEY" of an Ed25519 or P-256 key, for signing tokens.
func ParsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	if blk.Type == "EC PRIVATE KEY" {
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	} else {
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key %T", k)
	}
	if _, err := algOf(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}
