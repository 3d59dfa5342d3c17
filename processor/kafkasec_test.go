package processor

import (
	"context"
	"testing"
	"time"

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
	k, sec := testenv.StartKafkaUser(t, 1, "SCRAM-SHA-256", "processor")
	sec.Password = "wrong"
	n := testenv.StartNATS(t)
	p, err := New(Config{NATSURL: n.URL, KafkaBrokers: []string{k.Addr()}, Logger: testenv.Logger(t), KafkaSecurity: sec})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WantRefusedPassword(t, p.Run)
}

// Misconfigured Kafka security is refused by New.
func TestKafkaSecurityConfig(t *testing.T) {
	testenv.RefusesBadKafkaSecurity(t, ErrConfig, func(sec kafkaconn.Security) error {
		_, err := New(Config{KafkaBrokers: []string{"127.0.0.1:9092"}, KafkaSecurity: sec})
		return err
	})
}
