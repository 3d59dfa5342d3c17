package testenv

import (
	"crypto/tls"
	"testing"

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

// KafkaSecurityModes are the TLS and SASL combinations a stage is tested
// against: SASL authenticates user with the password "s3cret", TLS uses
// certs.
func KafkaSecurityModes(t testing.TB, certs *Certs, user string) []KafkaSecurityMode {
	t.Helper()
	users := func(m string) []broker.User { return []broker.User{{Mechanism: m, Name: user, Password: "s3cret"}} }
	mtls := kafkaconn.Security{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}
	sasl := func(s kafkaconn.Security, m string) kafkaconn.Security {
		s.SASL, s.User, s.Password = m, user, "s3cret"
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
