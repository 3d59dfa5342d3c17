package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
)

// Misconfigured --kafka-… flags stop every stage before it connects.
func TestKafkaSecurityFlagsRefused(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"missing CA file", []string{"--kafka-ca", "/nonexistent/ca.pem"}, nil, "no such file"},
		{"unknown mechanism", []string{"--kafka-sasl", "gssapi", "--kafka-user", "u", "--kafka-password-file", pass}, nil, "unknown SASL mechanism"},
		{"password without user", []string{"--kafka-sasl", "scram-sha-256"}, map[string]string{kafkaPasswordEnv: "p"}, "without a user"},
		{"password without mechanism", []string{"--kafka-user", "u"}, map[string]string{kafkaPasswordEnv: "p"}, "without a SASL mechanism"},
		{"password twice", []string{"--kafka-sasl", "scram-sha-256", "--kafka-user", "u", "--kafka-password-file", pass},
			map[string]string{kafkaPasswordEnv: "p"}, "give one"},
		{"plain without tls", []string{"--kafka-sasl", "plain", "--kafka-user", "u", "--kafka-password-file", pass}, nil, "in clear"},
		// A key "--flag" stands for the command's variable of that flag.
		{"flags from the environment", nil, map[string]string{"--kafka-sasl": "scram-sha-1"}, "unknown SASL mechanism"},
	}
	for _, cmd := range []string{"ingest", "bridge", "processor", "up"} {
		for _, tt := range tests {
			t.Run(cmd+"/"+tt.name, func(t *testing.T) {
				args := append([]string{cmd, "--kafka-brokers", "127.0.0.1:1"}, tt.args...)
				vars := map[string]string{}
				for k, v := range tt.env {
					if f, ok := strings.CutPrefix(k, "--"); ok {
						k = envName(cmd, f)
					}
					vars[k] = v
				}
				err := runCommand(t, vars, args...)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want an error saying %q", err, tt.want)
				}
			})
		}
	}
}

func runCommand(t *testing.T, vars map[string]string, args ...string) error {
	var out bytes.Buffer
	return runCommandTo(t, &out, vars, args...)
}

// runCommandTo is runCommand with its output to out.
func runCommandTo(t *testing.T, out io.Writer, vars map[string]string, args ...string) error {
	env := &environment{stdin: strings.NewReader(""), stdout: out, stderr: out,
		getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return dispatch(ctx, env, args)
}

// "emostream kafka" with --tls-cert, --tls-client-ca and --sasl requires
// what it says: a client with the CA, a client certificate and the
// password connects; one with a wrong password is refused.
func TestKafkaCommandSecurity(t *testing.T) {
	certs := testenv.NewCerts(t)
	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out,
		getenv: func(k string) string { return map[string]string{kafkaPasswordEnv: "s3cret"}[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, env, []string{"kafka", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
			"--partitions", "2", "--tls-cert", certs.ServerCertFile, "--tls-key", certs.ServerKeyFile,
			"--tls-client-ca", certs.CAFile, "--sasl", "scram-sha-512", "--sasl-user", "emostream"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kafka: %v", err)
		}
	}()
	addrRE := regexp.MustCompile(`Kafka broker on (\S+) \(TLS with client certificates, SASL SCRAM-SHA-512\)`)
	var addr string
	testenv.WaitFor(t, 20*time.Second, "the broker's address", func() bool {
		m := addrRE.FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	sec := kafkaconn.Security{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile,
		SASL: "scram-sha-512", User: "emostream", Password: "s3cret"}
	check := func(s kafkaconn.Security) error {
		c, err := s.Build()
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		return c.Check(cctx, []string{addr}, "test")
	}
	if err := check(sec); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	sec.Password = "wrong"
	if err := check(sec); !errors.Is(err, kafkaconn.ErrRefused) {
		t.Fatalf("wrong password: %v, want refused", err)
	}
}
