package bridge

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

// newSecureEnv is newEnv with a broker that requires sec's TLS and SASL;
// the env's producer and offset reader connect with client.
func newSecureEnv(t *testing.T, partitions int32, sec testenv.KafkaSecurity, client kafkaconn.Security) *env {
	t.Helper()
	kc, err := client.Build()
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, testenv.StartSecureKafka(t, partitions, sec).Target(), kc.Dialer("test"), kc.Transport("test"))
}

// The bridge's consumer group and partition readers reach a broker that
// requires TLS, SASL or both, and count exactly what was produced.
func TestKafkaSecurityModes(t *testing.T) {
	for _, tt := range testenv.KafkaSecurityModes(t, testenv.NewCerts(t), "bridge") {
		t.Run(tt.Name, func(t *testing.T) {
			e := newSecureEnv(t, 2, tt.Broker, tt.Client)
			cfg := e.config(nil)
			cfg.KafkaSecurity = tt.Client
			e.start(cfg)
			e.produce(300, true)
			e.check(e.waitCovered())
		})
	}
}

// A wrong password stops Run at start, saying what Kafka refused.
func TestKafkaWrongPassword(t *testing.T) {
	client := kafkaconn.Security{SASL: "scram-sha-512", User: "bridge", Password: "s3cret"}
	e := newSecureEnv(t, 1, testenv.KafkaSecurity{Users: []broker.User{{Mechanism: "SCRAM-SHA-512", Name: "bridge", Password: "s3cret"}}}, client)
	cfg := e.config(nil)
	cfg.KafkaSecurity = client
	cfg.KafkaSecurity.Password = "wrong"
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = b.Run(ctx)
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
		{"unknown mechanism", kafkaconn.Security{SASL: "gssapi", User: "u", Password: "p"}, "unknown SASL mechanism"},
		{"password without user", kafkaconn.Security{SASL: "plain", TLS: true, Password: "p"}, "without a user"},
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
