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

	"github.com/emostream/emostream/internal/setting"
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

// Build validates s and loads its files into a Conn. Its errors name the
// setting (package setting) and wrap ErrConfig.
func (s Security) Build() (Conn, error) {
	if err := setting.First(ErrConfig, s.rules()...); err != nil {
		return Conn{}, err
	}
	var c Conn
	var err error
	if s.tlsOn() {
		if c.TLS, err = s.tlsConfig(); err != nil {
			return Conn{}, err
		}
	}
	if s.SASL != "" {
		if c.SASL, err = s.mechanism(); err != nil {
			return Conn{}, err
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

// rules are the rules of s, one per setting (package setting).
func (s Security) rules() []setting.Rule {
	mech := mechanismName(s.SASL)
	credentials := s.User != "" || s.Password != "" || s.PasswordFile != ""
	return []setting.Rule{
		setting.Check("TLS", s.tlsOn(), mech != Plain || s.tlsOn(),
			"SASL PLAIN sends the password in clear: turn TLS on, or use scram-sha-256 or scram-sha-512"),
		setting.Check("KeyFile", s.KeyFile, (s.CertFile == "") == (s.KeyFile == ""),
			"a client certificate needs both its certificate and its key file"),
		setting.Check("InsecureSkipVerify", s.InsecureSkipVerify, !s.InsecureSkipVerify || s.CAFile == "" && s.ServerName == "",
			"with a CA file or server name, which would not be checked: drop one"),
		setting.Check("SASL", s.SASL, s.SASL == "" || mech != "", "unknown SASL mechanism: want plain, scram-sha-256 or scram-sha-512"),
		setting.Check("SASL", s.SASL, s.SASL != "" || !credentials,
			"a SASL user or password without a SASL mechanism: name one (plain, scram-sha-256, scram-sha-512)"),
		setting.Check("User", s.User, s.SASL == "" || s.User != "", fmt.Sprintf("SASL %s without a user: give one", mech)),
		setting.Check("Password", nil, s.SASL == "" || s.Password != "" || s.PasswordFile != "",
			fmt.Sprintf("SASL %s without a password: give a password file or the password in the environment", mech)),
		setting.Check("PasswordFile", s.PasswordFile, s.Password == "" || s.PasswordFile == "",
			"both a password and a password file: give one"),
	}
}

func (s Security) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName, InsecureSkipVerify: s.InsecureSkipVerify}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, setting.First(ErrConfig, setting.Err("CAFile", s.CAFile, err))
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, setting.First(ErrConfig, setting.Check("CAFile", s.CAFile, false, "holds no PEM certificate"))
		}
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, setting.First(ErrConfig, setting.Err("CertFile", s.CertFile,
				fmt.Errorf("loading the client certificate and its key %s: %w", s.KeyFile, err)))
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
		return nil, setting.First(ErrConfig, setting.Err("User", user, fmt.Errorf("SASL %s: %w", algo.Name(), err)))
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
		return "", setting.First(ErrConfig, setting.Err("PasswordFile", s.PasswordFile, fmt.Errorf("reading the password file: %w", err)))
	}
	pass := strings.TrimRight(string(b), "\r\n")
	if pass == "" || strings.ContainsAny(pass, "\r\n") {
		return "", setting.First(ErrConfig, setting.Check("PasswordFile", s.PasswordFile, false, "want one non-empty line"))
	}
	return pass, nil
}
