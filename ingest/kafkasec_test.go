package ingest_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
)

// Ingest produces to a broker that requires TLS, SASL or both: a posted
// event is answered 202, so Kafka acknowledged it.
func TestKafkaSecurityModes(t *testing.T) {
	for _, tt := range testenv.KafkaSecurityModes(t, testenv.NewCerts(t), "ingest") {
		t.Run(tt.Name, func(t *testing.T) {
			k := testenv.StartSecureKafka(t, 2, tt.Broker).Target()
			st := startIngest(t, k, ingest.Config{KafkaSecurity: tt.Client})
			if r := st.post(t, event("u-1", "final-2026", "🔥")); r.status != http.StatusAccepted {
				t.Fatalf("POST: %d %s", r.status, r.body)
			}
		})
	}
}

// With a wrong password ingest runs, and /readyz says what Kafka refused.
func TestKafkaWrongPasswordNotReady(t *testing.T) {
	k, sec := testenv.StartKafkaUser(t, 1, "SCRAM-SHA-256", "ingest")
	sec.Password = "wrong"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ingest.New(ingest.Config{Listener: ln, KafkaBrokers: []string{k.Addr()}, Logger: testenv.Logger(t),
		KafkaSecurity: sec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var body string
	testenv.WaitFor(t, 20*time.Second, "/readyz to say why", func() bool {
		res, err := http.Get("http://" + srv.OpsAddr().String() + "/readyz")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body = string(b)
		return res.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "wrong user or password")
	})
	t.Log(body)
}

// Misconfigured Kafka security is refused by New.
func TestKafkaSecurityConfig(t *testing.T) {
	testenv.RefusesBadKafkaSecurity(t, ingest.ErrConfig, func(sec kafkaconn.Security) error {
		_, err := ingest.New(ingest.Config{KafkaSecurity: sec})
		return err
	})
}
