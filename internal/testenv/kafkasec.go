package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/wire"
)

// KafkaSecurity is what a secured test broker requires of its clients.
type KafkaSecurity struct {
	// TLS is the broker's server configuration (Certs.ServerTLS); nil
	// means plaintext.
	TLS *tls.Config
	// Users turns SASL on: only they may connect.
	Users []broker.User
}

// StartSecureKafka is StartKafka with TLS and SASL as sec says; Stop and
// Start keep them.
func StartSecureKafka(t testing.TB, partitions int32, sec KafkaSecurity) *Kafka {
	t.Helper()
	if partitions == 0 {
		partitions = wire.DefaultPartitions
	}
	k := &Kafka{DataDir: t.TempDir(), Topic: wire.DefaultTopic, Partitions: partitions, t: t, addr: "127.0.0.1:0", sec: sec}
	k.start()
	return k
}

// KafkaSecurityMode is one way to secure a test broker, with client
// settings it accepts.
type KafkaSecurityMode struct {
	Name   string
	Broker KafkaSecurity
	Client kafkaconn.Security
}

// KafkaPassword is the password of the SASL users of test brokers
// (KafkaSecurityModes, StartKafkaUser).
const KafkaPassword = "s3cret"

// KafkaSecurityModes are the TLS and SASL combinations a stage is tested
// against: SASL authenticates user with KafkaPassword, TLS uses certs.
func KafkaSecurityModes(t testing.TB, certs *Certs, user string) []KafkaSecurityMode {
	t.Helper()
	users := func(m string) []broker.User {
		return []broker.User{{Mechanism: m, Name: user, Password: KafkaPassword}}
	}
	mtls := kafkaconn.Security{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}
	sasl := func(s kafkaconn.Security, m string) kafkaconn.Security {
		s.SASL, s.User, s.Password = m, user, KafkaPassword
		return s
	}
	return []KafkaSecurityMode{
		{"tls", KafkaSecurity{TLS: certs.ServerTLS(t, false)}, kafkaconn.Security{TLS: true, CAFile: certs.CAFile}},
		{"mutual tls", KafkaSecurity{TLS: certs.ServerTLS(t, true)}, mtls},
		{"tls + plain", KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: users("PLAIN")},
			sasl(kafkaconn.Security{CAFile: certs.CAFile}, "plain")},
		{"mutual tls + plain", KafkaSecurity{TLS: certs.ServerTLS(t, true), Users: users("PLAIN")}, sasl(mtls, "plain")},
		{"scram-sha-256", KafkaSecurity{Users: users("SCRAM-SHA-256")}, sasl(kafkaconn.Security{}, "scram-sha-256")},
		{"tls + scram-sha-512", KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: users("SCRAM-SHA-512")},
			sasl(kafkaconn.Security{CAFile: certs.CAFile}, "scram-sha-512")},
	}
}

// StartKafkaUser starts a broker (StartSecureKafka) that requires SASL
// mechanism ("PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512") as user, with
// KafkaPassword, and returns it with client settings it accepts: a test of
// a wrong password changes their Password.
func StartKafkaUser(t testing.TB, partitions int32, mechanism, user string) (*Kafka, kafkaconn.Security) {
	t.Helper()
	k := StartSecureKafka(t, partitions, KafkaSecurity{
		Users: []broker.User{{Mechanism: mechanism, Name: user, Password: KafkaPassword}}})
	return k, kafkaconn.Security{SASL: strings.ToLower(mechanism), User: user, Password: KafkaPassword}
}

// WantRefusedPassword runs run, a stage's Run against a broker that
// refuses its password, for at most 30 s, and fails the test unless it
// stopped with kafkaconn.ErrRefused saying "wrong user or password".
func WantRefusedPassword(t testing.TB, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx)
	if !errors.Is(err, kafkaconn.ErrRefused) || !strings.Contains(err.Error(), "wrong user or password") {
		t.Fatalf("Run: %v, want a refused SASL authentication", err)
	}
}

// BadKafkaSecurity are Kafka security settings every stage's New refuses,
// each with a part of what its error says.
var BadKafkaSecurity = []struct {
	Name     string
	Security kafkaconn.Security
	Want     string
}{
	{"missing CA file", kafkaconn.Security{CAFile: "/nonexistent/ca.pem"}, "no such file"},
	{"unknown mechanism oauthbearer", kafkaconn.Security{SASL: "oauthbearer", User: "u", Password: "p"}, "unknown SASL mechanism"},
	{"unknown mechanism gssapi", kafkaconn.Security{SASL: "gssapi", User: "u", Password: "p"}, "unknown SASL mechanism"},
	{"unknown mechanism scram-sha-1", kafkaconn.Security{SASL: "scram-sha-1", User: "u", Password: "p"}, "unknown SASL mechanism"},
	{"scram-sha-256 password without user", kafkaconn.Security{SASL: "scram-sha-256", Password: "p"}, "without a user"},
	{"scram-sha-512 password without user", kafkaconn.Security{SASL: "scram-sha-512", Password: "p"}, "without a user"},
	{"plain over tls password without user", kafkaconn.Security{SASL: "plain", TLS: true, Password: "p"}, "without a user"},
}

// RefusesBadKafkaSecurity calls newStage, a stage's New, with each of
// BadKafkaSecurity, and fails the test unless the error wraps errConfig
// (the stage's ErrConfig) and kafkaconn.ErrConfig and says why.
func RefusesBadKafkaSecurity(t *testing.T, errConfig error, newStage func(kafkaconn.Security) error) {
	t.Helper()
	for _, tt := range BadKafkaSecurity {
		t.Run(tt.Name, func(t *testing.T) {
			err := newStage(tt.Security)
			if !errors.Is(err, errConfig) || !errors.Is(err, kafkaconn.ErrConfig) || !strings.Contains(err.Error(), tt.Want) {
				t.Fatalf("got %v, want %v and %v saying %q", err, errConfig, kafkaconn.ErrConfig, tt.Want)
			}
		})
	}
}
