package processor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
)

// The processor reads the partition count from a broker that requires TLS,
// SASL or both.
func TestKafkaSecurityModes(t *testing.T) {
	certs := testenv.NewCerts(t)
	user := func(m string) []broker.User {
		return []broker.User{{Mechanism: m, Name: "processor", Password: "s3cret"}}
	}
	tests := []struct {
		name   string
		broker testenv.KafkaSecurity
		client kafkaconn.Security
	}{
		{"mutual tls", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, true)},
			kafkaconn.Security{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}},
		{"tls + plain", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: user("PLAIN")},
			kafkaconn.Security{CAFile: certs.CAFile, SASL: "plain", User: "processor", Password: "s3cret"}},
		{"scram-sha-256", testenv.KafkaSecurity{Users: user("SCRAM-SHA-256")},
			kafkaconn.Security{SASL: "scram-sha-256", User: "processor", Password: "s3cret"}},
		{"tls + scram-sha-512", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: user("SCRAM-SHA-512")},
			kafkaconn.Security{CAFile: certs.CAFile, SASL: "scram-sha-512", User: "processor", Password: "s3cret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testenv.StartSecureKafka(t, 3, tt.broker)
			p, err := New(Config{KafkaBrokers: []string{k.Addr()}, KafkaSecurity: tt.client, Logger: testenv.Logger(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := p.checkKafka(ctx); err != nil {
				t.Fatal(err)
			}
			n, err := partitionCount(ctx, p.kafka.Dialer("test"), []string{k.Addr()}, k.Topic)
			if n != 3 || err != nil {
				t.Fatalf("partition count %d, %v; want 3", n, err)
			}
		})
	}
}

// A wrong password stops Run at start, saying what Kafka refused.
func TestKafkaWrongPassword(t *testing.T) {
	k := testenv.StartSecureKafka(t, 1, testenv.KafkaSecurity{
		Users: []broker.User{{Mechanism: "SCRAM-SHA-256", Name: "processor", Password: "s3cret"}}})
	n := testenv.StartNATS(t)
	p, err := New(Config{NATSURL: n.URL, KafkaBrokers: []string{k.Addr()}, Logger: testenv.Logger(t),
		KafkaSecurity: kafkaconn.Security{SASL: "scram-sha-256", User: "processor", Password: "wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = p.Run(ctx)
	if !errors.Is(err, kafkaconn.ErrRefused) || !strings.Contains(err.Error(), "wrong user or password") {
		t.Fatalf("Run: %v, want a refused SASL authentication", err)
	}
}

// Misconfigured Kafka security is refused by New.
func TestKafkaSecurityConfig(t *testing.T) {
	tests := []struct {
		name string
		sec  kafkaconn.Security
		want string
	}{
		{"missing CA file", kafkaconn.Security{CAFile: "/nonexistent/ca.pem"}, "no such file"},
		{"unknown mechanism", kafkaconn.Security{SASL: "scram-sha-1", User: "u", Password: "p"}, "unknown SASL mechanism"},
		{"password without user", kafkaconn.Security{SASL: "scram-sha-256", Password: "p"}, "without a user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{KafkaBrokers: []string{"127.0.0.1:9092"}, KafkaSecurity: tt.sec})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrConfig saying %q", err, tt.want)
			}
		})
	}
}
