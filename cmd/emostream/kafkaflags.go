package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/kafkaconn"
)

// kafkaPasswordEnv holds the Kafka SASL password when --kafka-password-file
// (or, for "emostream kafka", --sasl-password-file) is not given: never a
// flag, since flags show in ps.
const kafkaPasswordEnv = "EMOSTREAM_KAFKA_PASSWORD"

// kafkaSecurityFlags are how ingest, bridge, processor and up reach Kafka
// over TLS and SASL (docs/operations.md, "Kafka security").
type kafkaSecurityFlags struct {
	s kafkaconn.Security
}

func addKafkaSecurityFlags(fs *flag.FlagSet) *kafkaSecurityFlags {
	f := &kafkaSecurityFlags{}
	fs.BoolVar(&f.s.TLS, "kafka-tls", false, "connect to Kafka over TLS (SSL, SASL_SSL), verifying the brokers with the system roots or --kafka-ca")
	fs.StringVar(&f.s.CAFile, "kafka-ca", "", "PEM CA that verifies the brokers' certificates (turns TLS on)")
	fs.StringVar(&f.s.CertFile, "kafka-cert", "", "PEM client certificate for brokers that require one (with --kafka-key; turns TLS on)")
	fs.StringVar(&f.s.KeyFile, "kafka-key", "", "PEM private key of --kafka-cert")
	fs.StringVar(&f.s.ServerName, "kafka-server-name", "", "name the brokers' certificates must carry; empty: the host dialled")
	fs.BoolVar(&f.s.InsecureSkipVerify, "kafka-insecure-skip-verify", false, "do not verify the brokers' certificates: tests only, anyone on the path can read and change the events")
	fs.StringVar(&f.s.SASL, "kafka-sasl", "", "SASL mechanism: plain (needs TLS), scram-sha-256 or scram-sha-512; empty: none")
	fs.StringVar(&f.s.User, "kafka-user", "", "SASL user; its password comes from --kafka-password-file or "+kafkaPasswordEnv)
	fs.StringVar(&f.s.PasswordFile, "kafka-password-file", "", "file holding the --kafka-user password (one line)")
	return f
}

// security checks the flags and returns them, the password read from the
// environment when no file is given.
func (f *kafkaSecurityFlags) security(env *environment) (kafkaconn.Security, error) {
	s := f.s
	if p := env.getenv(kafkaPasswordEnv); p != "" {
		if s.PasswordFile != "" {
			return s, fmt.Errorf("--kafka-password-file and %s: give one", kafkaPasswordEnv)
		}
		s.Password = p
	}
	if _, err := s.Build(); err != nil {
		return s, fmt.Errorf("--kafka-…: %w", err)
	}
	return s, nil
}

// brokerSecurityFlags are the TLS and SASL of "emostream kafka": for tests
// and demos of the stages' --kafka-… flags against the embedded broker.
type brokerSecurityFlags struct {
	cert, key, clientCA, mech, user, passwordFile string
}

func addBrokerSecurityFlags(fs *flag.FlagSet) *brokerSecurityFlags {
	f := &brokerSecurityFlags{}
	fs.StringVar(&f.cert, "tls-cert", "", "PEM server certificate: serve TLS only (with --tls-key)")
	fs.StringVar(&f.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.clientCA, "tls-client-ca", "", "PEM CA of the client certificates every client must show (needs --tls-cert)")
	fs.StringVar(&f.mech, "sasl", "", "require SASL: plain, scram-sha-256 or scram-sha-512 (empty: none)")
	fs.StringVar(&f.user, "sasl-user", "", "the one SASL user; its password comes from --sasl-password-file or "+kafkaPasswordEnv)
	fs.StringVar(&f.passwordFile, "sasl-password-file", "", "file holding the --sasl-user password (one line)")
	return f
}

// apply sets cfg's TLS and Users from the flags.
func (f *brokerSecurityFlags) apply(env *environment, cfg *broker.Config) error {
	if (f.cert == "") != (f.key == "") || f.clientCA != "" && f.cert == "" {
		return errors.New("--tls-cert and --tls-key go together, and --tls-client-ca needs them")
	}
	if f.cert != "" {
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return fmt.Errorf("--tls-cert: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if f.clientCA != "" {
			pem, err := os.ReadFile(f.clientCA)
			if err != nil {
				return fmt.Errorf("--tls-client-ca: %w", err)
			}
			cfg.TLS.ClientCAs, cfg.TLS.ClientAuth = x509.NewCertPool(), tls.RequireAndVerifyClientCert
			if !cfg.TLS.ClientCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--tls-client-ca %s: no PEM certificate", f.clientCA)
			}
		}
	}
	if f.mech == "" && f.user == "" && f.passwordFile == "" {
		return nil
	}
	pass, err := f.password(env)
	if err != nil {
		return err
	}
	cfg.Users = []broker.User{{Mechanism: f.mech, Name: f.user, Password: pass}}
	return nil
}

func (f *brokerSecurityFlags) password(env *environment) (string, error) {
	if f.mech == "" || f.user == "" {
		return "", errors.New("--sasl and --sasl-user go together")
	}
	if f.passwordFile == "" {
		if p := env.getenv(kafkaPasswordEnv); p != "" {
			return p, nil
		}
		return "", fmt.Errorf("--sasl %s needs --sasl-password-file or %s", f.mech, kafkaPasswordEnv)
	}
	b, err := os.ReadFile(f.passwordFile)
	if err != nil {
		return "", fmt.Errorf("--sasl-password-file: %w", err)
	}
	if p := strings.TrimRight(string(b), "\r\n"); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("--sasl-password-file %s is empty", f.passwordFile)
}

// String describes what the broker requires, for its start-up line.
func (f *brokerSecurityFlags) String() string {
	s := "plaintext"
	switch {
	case f.clientCA != "":
		s = "TLS with client certificates"
	case f.cert != "":
		s = "TLS"
	}
	if f.mech != "" {
		s += ", SASL " + strings.ToUpper(f.mech)
	}
	return s
}
