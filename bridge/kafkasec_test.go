package bridge

import (
	"testing"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
)

// newSecureEnv is newEnv on k, a broker that requires TLS, SASL or both;
// the env's producer and offset reader connect with client.
func newSecureEnv(t *testing.T, k *testenv.Kafka, client kafkaconn.Security) *env {
	t.Helper()
	kc, err := client.Build()
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, k.Target(), kc.Dialer("test"), kc.Transport("test"))
}

// The bridge's consumer group and partition readers reach a broker that
// requires TLS, SASL or both, and count exactly what was produced.
func TestKafkaSecurityModes(t *testing.T) {
	for _, tt := range testenv.KafkaSecurityModes(t, testenv.NewCerts(t), "bridge") {
		t.Run(tt.Name, func(t *testing.T) {
			e := newSecureEnv(t, testenv.StartSecureKafka(t, 2, tt.Broker), tt.Client)
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
	k, client := testenv.StartKafkaUser(t, 1, "SCRAM-SHA-512", "bridge")
	e := newSecureEnv(t, k, client)
	cfg := e.config(nil)
	cfg.KafkaSecurity = client
	cfg.KafkaSecurity.Password = "wrong"
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WantRefusedPassword(t, b.Run)
}

// Misconfigured Kafka security is refused by New.
func TestKafkaSecurityConfig(t *testing.T) {
	testenv.RefusesBadKafkaSecurity(t, ErrConfig, func(sec kafkaconn.Security) error {
		_, err := New(Config{KafkaBrokers: []string{"127.0.0.1:9092"}, KafkaSecurity: sec})
		return err
	})
}
