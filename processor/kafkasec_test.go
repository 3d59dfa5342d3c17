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
	for _, tt := range testenv.KafkaSecurityModes(t, testenv.NewCerts(t), "processor") {
		t.Run(tt.Name, func(t *testing.T) {
			k := testenv.StartSecureKafka(t, 3, tt.Broker)
			p, err := New(Config{KafkaBrokers: []string{k.Addr()}, KafkaSecurity: tt.Client, Logger: testenv.Logger(t)})
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
