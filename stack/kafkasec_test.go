package stack_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
)

// secureKafka is a broker as a managed service runs it: TLS that requires
// a client certificate, and SASL SCRAM-SHA-512.
func secureKafka(t *testing.T) (*testenv.Kafka, kafkaconn.Security) {
	certs := testenv.NewCerts(t)
	k := testenv.StartSecureKafka(t, 4, testenv.KafkaSecurity{TLS: certs.ServerTLS(t, true),
		Users: []broker.User{{Mechanism: "SCRAM-SHA-512", Name: "emostream", Password: testenv.KafkaPassword}}})
	return k, kafkaconn.Security{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile,
		SASL: "scram-sha-512", User: "emostream", Password: testenv.KafkaPassword}
}

// Every stage reaches a broker over mutual TLS with SCRAM-SHA-512: events
// posted over HTTP reach a viewer as swarms, all of them.
func TestPipelineOverSecureKafka(t *testing.T) {
	k, sec := secureKafka(t)
	st := startStackWith(t, stack.Config{Window: 500 * time.Millisecond, KafkaBrokers: []string{k.Addr()},
		KafkaSecurity: sec, Registry: registry.Config{AutoMatches: 10}})
	v := watch(t, st.WebSocketURLs()[0])
	var evs []map[string]string
	for i := range 200 {
		evs = append(evs, map[string]string{"user_id": fmt.Sprintf("u-%d", i), "match_id": "final-2026", "emoji_type": "🔥"})
	}
	if got := post(t, st.HTTPURL(), evs); got != len(evs) {
		t.Fatalf("accepted %d of %d", got, len(evs))
	}
	testenv.WaitFor(t, 30*time.Second, "the viewer to count 200 events", func() bool { return v.total() >= 200 })
	if got := v.total(); got != 200 {
		t.Errorf("viewer counted %d, want 200", got)
	}
}

// A wrong Kafka password stops the stack at start with what to check.
func TestSecureKafkaWrongPassword(t *testing.T) {
	k, sec := secureKafka(t)
	sec.Password = "wrong"
	st, err := stack.Start(stack.Config{DataDir: t.TempDir(), KafkaBrokers: []string{k.Addr()}, KafkaSecurity: sec,
		Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WantRefusedPassword(t, st.Run)
}

// The embedded broker is plaintext: security options without external
// brokers are refused.
func TestSecureKafkaNeedsExternalBrokers(t *testing.T) {
	_, err := stack.Start(stack.Config{DataDir: t.TempDir(), KafkaSecurity: kafkaconn.Security{TLS: true}})
	if err == nil || !strings.Contains(err.Error(), "need external brokers") {
		t.Fatalf("got %v", err)
	}
}
