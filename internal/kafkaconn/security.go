package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASL mechanism names, as Kafka spells them. Security.SASL also takes them
// in lower case.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// ErrConfig is wrapped by every error of Security.Build.
var ErrConfig = errors.New("kafkaconn: invalid Kafka security")

// Security describes how a stage connects to Kafka. The zero value is the
// documented default: plaintext, no authentication (right for the embedded
// broker on loopback only).
type Security struct {
	// TLS turns TLS on. Setting CAFile, CertFile, KeyFile or ServerName
	// turns it on too.
	TLS bool
	// CAFile is a PEM file of the certificates that sign the brokers'.
	// Empty means the system's roots (right for managed Kafka services).
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key shown to
	// brokers that require one (mutual TLS). Both or neither.
	CertFile, KeyFile string
	// ServerName is the name the brokers' certificates must carry. Empty
	// means the host of each broker address dialled.
	ServerName string
	// InsecureSkipVerify accepts any broker certificate: an attacker
	// between the stage and Kafka then reads and changes everything. For
	// tests only; refused together with CAFile or ServerName.
	InsecureSkipVerify bool

	// SASL is the mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any
	// case). Empty means no SASL authentication. PLAIN sends the password
	// as is, so it needs TLS.
	SASL string
	// User is the SASL user name; required with SASL.
	User string
	// Password is the SASL password. PasswordFile is read instead when it
	// is set (one line; a trailing newline is dropped). One of them is
	// required with SASL.
	Password     string
	PasswordFile string
}

// tlsOn reports whether s asks for TLS.
func (s Security) tlsOn() bool {
	return s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.ServerName != "" || s.InsecureSkipVerify
}

// Build validates s and loads its files into a Conn.
func (s Security) Build() (Conn, error) {
	if err := s.validate(); err != nil {
		return Conn{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var c Conn
	var err error
	if s.tlsOn() {
		if c.TLS, err = s.tlsConfig(); err != nil {
			return Conn{}, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if s.SASL != "" {
		if c.SASL, err = s.mechanism(); err != nil {
			return Conn{}, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		c.user = s.User
	}
	return c, nil
}

// mechanismName is s.SASL as Kafka spells it, or "" if it is unknown.
func mechanismName(m string) string {
	switch u := strings.ToUpper(m); u {
	case Plain, ScramSHA256, ScramSHA512:
		return u
	}
	return ""
}

func (s Security) validate() error {
	switch {
	case s.SASL != "" && mechanismName(s.SASL) == "":
		return fmt.Errorf("unknown SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.SASL)
	case s.SASL == "" && (s.User != "" || s.Password != "" || s.PasswordFile != ""):
		return errors.New("a SASL user or password without a SASL mechanism: name one (plain, scram-sha-256, scram-sha-512)")
	case s.SASL != "" && s.User == "":
		return fmt.Errorf("SASL %s without a user", mechanismName(s.SASL))
	case s.SASL != "" && s.Password == "" && s.PasswordFile == "":
		return fmt.Errorf("SASL %s without a password (give a password file or the password in the environment)", mechanismName(s.SASL))
	case s.Password != "" && s.PasswordFile != "":
		return errors.New("both a password and a password file: give one")
	case mechanismName(s.SASL) == Plain && !s.tlsOn():
		return errors.New("SASL PLAIN sends the password in clear: turn TLS on, or use scram-sha-256 or scram-sha-512")
	case (s.CertFile == "") != (s.KeyFile == ""):
		return errors.New("a client certificate needs both its certificate and its key file")
	case s.InsecureSkipVerify && (s.CAFile != "" || s.ServerName != ""):
		return errors.New("insecure skip-verify with a CA file or server name: they would not be checked; drop one")
	}
	return nil
}

func (s Security) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName, InsecureSkipVerify: s.InsecureSkipVerify}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", s.CAFile)
		}
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate %s and key %s: %w", s.CertFile, s.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func (s Security) mechanism() (sasl.Mechanism, error) {
	pass, err := s.password()
	if err != nil {
		return nil, err
	}
	switch mechanismName(s.SASL) {
	case Plain:
		return plain.Mechanism{Username: s.User, Password: pass}, nil
	case ScramSHA256:
		return scramMechanism(scram.SHA256, s.User, pass)
	default:
		return scramMechanism(scram.SHA512, s.User, pass)
	}
}

func scramMechanism(algo scram.Algorithm, user, pass string) (sasl.Mechanism, error) {
	m, err := scram.Mechanism(algo, user, pass)
	if err != nil {
		return nil, fmt.Errorf("SASL %s for user %q: %w", algo.Name(), user, err)
	}
	return m, nil
}

// password is Password, or the first line of PasswordFile.
func (s Security) password() (string, error) {
	if s.PasswordFile == "" {
		return s.Password, nil
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("reading the password file: %w", err)
	}
	pass := strings.TrimRight(string(b), "\r\n")
	if pass == "" || strings.ContainsAny(pass, "\r\n") {
		return "", fmt.Errorf("password file %s: want one non-empty line", s.PasswordFile)
	}
	return pass, nil
}
