package kafkaconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
)

// TestModes connects to the embedded broker in every security mode it can
// require: Check passes, a record produced through the Transport (as
// ingest does) is read back through the Dialer (as the bridge does), and
// the partition count is read through the Dialer (as the processor does).
func TestModes(t *testing.T) {
	certs := testenv.NewCerts(t)
	tlsOnly := kafkaconn.Security{TLS: true, CAFile: certs.CAFile}
	mtls := kafkaconn.Security{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}
	tests := []struct {
		name   string
		broker testenv.KafkaSecurity
		client kafkaconn.Security
	}{
		{"plaintext", testenv.KafkaSecurity{}, kafkaconn.Security{}},
		{"tls", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false)}, tlsOnly},
		{"tls server name", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false)},
			kafkaconn.Security{CAFile: certs.CAFile, ServerName: "localhost"}},
		{"mutual tls", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, true)}, mtls},
		{"tls + sasl plain", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: users("PLAIN")},
			withSASL(tlsOnly, "plain")},
		{"sasl scram-sha-256", testenv.KafkaSecurity{Users: users("SCRAM-SHA-256")},
			withSASL(kafkaconn.Security{}, "scram-sha-256")},
		{"tls + sasl scram-sha-256", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: users("SCRAM-SHA-256")},
			withSASL(tlsOnly, "scram-sha-256")},
		{"mutual tls + sasl scram-sha-512", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, true), Users: users("SCRAM-SHA-512")},
			withSASL(mtls, "SCRAM-SHA-512")},
	}
	for _, tt := range tests {
		for _, inProcess := range []bool{false, true} {
			name := tt.name
			if inProcess {
				name += " in process"
			}
			t.Run(name, func(t *testing.T) { testMode(t, tt.broker, tt.client, inProcess) })
		}
	}
}

// testMode is one case of TestModes; inProcess dials the embedded broker
// through its Dial (as "emostream up" does) and checks every connection
// went that way.
func testMode(t *testing.T, sec testenv.KafkaSecurity, client kafkaconn.Security, inProcess bool) {
	k := testenv.StartSecureKafka(t, 2, sec)
	c, err := client.Build()
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	if inProcess {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := k.Dial(ctx, network, addr)
			if _, tcp := conn.(*net.TCPConn); err == nil && tcp {
				t.Errorf("dialled %s over TCP", addr)
			}
			dials.Add(1)
			return conn, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Check(ctx, []string{k.Addr()}, "test"); err != nil {
		t.Fatalf("check: %v", err)
	}
	roundTrip(ctx, t, c, k)
	rc, err := c.DialRaw(ctx, k.Addr(), "test-raw")
	if err != nil {
		t.Fatalf("dial raw: %v", err)
	}
	defer rc.Close()
	if v := rc.Versions[protocol.Fetch]; v < 11 {
		t.Fatalf("broker versions %v: Fetch %d", rc.Versions, v)
	}
	if n, mem := dials.Load(), inProcessConns(k); inProcess && (n < 4 || mem != n) {
		t.Fatalf("%d dials, %d in process; want the check's, the transport's, the dialer's and the raw connection, all in process", n, mem)
	}
}

func inProcessConns(k *testenv.Kafka) int64 {
	mem, _ := k.Connections()
	return mem
}

func users(mech string) []broker.User {
	return []broker.User{{Mechanism: mech, Name: "emostream", Password: "s3cret"}, {Mechanism: mech, Name: "other", Password: "other-pass"}}
}

func withSASL(s kafkaconn.Security, mech string) kafkaconn.Security {
	s.SASL, s.User, s.Password = mech, "emostream", "s3cret"
	return s
}

// roundTrip produces a record through c's Transport and reads it back, and
// the partition count, through c's Dialer.
func roundTrip(ctx context.Context, t *testing.T, c kafkaconn.Conn, k *testenv.Kafka) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(k.Addr()), Transport: c.Transport("test-producer")}
	res, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: k.Topic, Partition: 1, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes([]byte("hello"))})})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	d := c.Dialer("test-consumer")
	conn, err := d.DialLeader(ctx, "tcp", k.Addr(), k.Topic, 1)
	if err != nil {
		t.Fatalf("dial leader: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg, err := conn.ReadMessage(1 << 20)
	if err != nil || string(msg.Value) != "hello" {
		t.Fatalf("read %q, %v; want hello", msg.Value, err)
	}
	ps, err := conn.ReadPartitions(k.Topic)
	if err != nil || len(ps) != 2 {
		t.Fatalf("partitions %d, %v; want 2", len(ps), err)
	}
}

// TestRefused checks that a broker refusing a client's security is told
// apart, with what to check, from one that is down.
func TestRefused(t *testing.T) {
	certs, other := testenv.NewCerts(t), testenv.NewCerts(t)
	tlsOnly := kafkaconn.Security{CAFile: certs.CAFile}
	tests := []struct {
		name   string
		broker testenv.KafkaSecurity
		client kafkaconn.Security
		want   string
	}{
		{"wrong scram-sha-256 password", testenv.KafkaSecurity{Users: users("SCRAM-SHA-256")},
			kafkaconn.Security{SASL: "scram-sha-256", User: "emostream", Password: "wrong"}, "wrong user or password"},
		{"wrong scram-sha-512 password", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: users("SCRAM-SHA-512")},
			kafkaconn.Security{CAFile: certs.CAFile, SASL: "scram-sha-512", User: "emostream", Password: "wrong"}, "wrong user or password"},
		{"wrong plain password", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false), Users: users("PLAIN")},
			kafkaconn.Security{CAFile: certs.CAFile, SASL: "plain", User: "emostream", Password: "wrong"}, "wrong user or password"},
		{"unknown user", testenv.KafkaSecurity{Users: users("SCRAM-SHA-256")},
			kafkaconn.Security{SASL: "scram-sha-256", User: "nobody", Password: "s3cret"}, `as "nobody" failed`},
		{"mechanism not offered", testenv.KafkaSecurity{Users: users("SCRAM-SHA-256")},
			kafkaconn.Security{SASL: "scram-sha-512", User: "emostream", Password: "s3cret"}, "wrong user or password"},
		{"another CA", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false)},
			kafkaconn.Security{CAFile: other.CAFile}, "certificate did not verify"},
		{"system roots", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false)},
			kafkaconn.Security{TLS: true}, "certificate did not verify"},
		{"wrong server name", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false)},
			kafkaconn.Security{CAFile: certs.CAFile, ServerName: "kafka.example.com"}, "certificate did not verify"},
		{"no client certificate", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, true)}, tlsOnly, "refused the TLS handshake"},
		{"untrusted client certificate", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, true)},
			kafkaconn.Security{CAFile: certs.CAFile, CertFile: other.ClientCertFile, KeyFile: other.ClientKeyFile}, "refused the TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testenv.StartSecureKafka(t, 1, tt.broker)
			c, err := tt.client.Build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = c.Check(ctx, []string{k.Addr()}, "test")
			if !errors.Is(err, kafkaconn.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrRefused saying %q", err, tt.want)
			}
			t.Log(err)
			_, err = c.DialRaw(ctx, k.Addr(), "test-raw")
			if !errors.Is(err, kafkaconn.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("dial raw: got %v, want ErrRefused saying %q", err, tt.want)
			}
		})
	}
}

// TestUnreachable: a broker that is not there is not a refusal (the
// stages retry it).
func TestUnreachable(t *testing.T) {
	k := testenv.StartKafka(t, 1)
	addr := k.Addr()
	k.Stop()
	c, err := kafkaconn.Security{SASL: "scram-sha-256", User: "u", Password: "p"}.Build()
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(context.Background(), []string{addr}, "test")
	if err == nil || errors.Is(err, kafkaconn.ErrRefused) {
		t.Fatalf("got %v, want a plain connection error", err)
	}
}

// TestCheckAtStart: a refusal is returned; Kafka not reachable yet, or
// reached, is only logged; a plaintext Conn checks nothing.
func TestCheckAtStart(t *testing.T) {
	k, sec := testenv.StartKafkaUser(t, 1, "SCRAM-SHA-256", "emostream")
	down := testenv.StartKafka(t, 1)
	downAddr := down.Addr()
	down.Stop()
	wrong := sec
	wrong.Password = "wrong"
	tests := []struct {
		name    string
		sec     kafkaconn.Security
		brokers []string
		refused bool
		log     string
	}{
		{"refused", wrong, []string{k.Addr()}, true, ""},
		{"reachable", sec, []string{k.Addr()}, false, "kafka reachable"},
		{"not reachable yet", sec, []string{downAddr}, false, "kafka not reachable yet"},
		{"plaintext", kafkaconn.Security{}, []string{downAddr}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.sec.Build()
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			err = c.CheckAtStart(context.Background(), tt.brokers, "test", slog.New(slog.NewTextHandler(&logs, nil)))
			if errors.Is(err, kafkaconn.ErrRefused) != tt.refused || !tt.refused && err != nil {
				t.Errorf("got %v, want refused %v", err, tt.refused)
			}
			if got := logs.String(); !strings.Contains(got, tt.log) || tt.log == "" && got != "" {
				t.Errorf("logged %q, want %q", got, tt.log)
			}
		})
	}
}

// TestMismatch: a plaintext client of a TLS broker, and a TLS client of a
// plaintext one, fail (they cannot tell why: each waits for the other).
func TestMismatch(t *testing.T) {
	certs := testenv.NewCerts(t)
	tests := []struct {
		name   string
		broker testenv.KafkaSecurity
		client kafkaconn.Security
	}{
		{"plaintext to tls", testenv.KafkaSecurity{TLS: certs.ServerTLS(t, false)}, kafkaconn.Security{}},
		{"tls to plaintext", testenv.KafkaSecurity{}, kafkaconn.Security{CAFile: certs.CAFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testenv.StartSecureKafka(t, 1, tt.broker)
			c, err := tt.client.Build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := c.Check(ctx, []string{k.Addr()}, "test"); err == nil {
				t.Fatal("connected")
			}
		})
	}
}

func ExampleSecurity() {
	// A managed Kafka service: SASL_SSL with SCRAM, brokers' certificates
	// from a public CA (the system's roots).
	c, err := kafkaconn.Security{TLS: true, SASL: "scram-sha-512", User: "emostream", Password: "…"}.Build()
	if err != nil {
		panic(err)
	}
	fmt.Println(c)
	_ = c.Dialer("emostream-bridge")    // kafka.Conn, consumer groups
	_ = c.Transport("emostream-ingest") // kafka.Client, kafka.Writer
	// Output: TLS, SASL SCRAM-SHA-512 as emostream
}

// A broker that accepts the connection and never answers holds DialRaw
// only until its context is cancelled (or DialTimeout).
func TestDialRawSilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { _, err := (kafkaconn.Conn{}).DialRaw(ctx, ln.Addr().String(), "test"); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("DialRaw to a silent broker succeeded")
		}
	case <-time.After(kafkaconn.DialTimeout / 2):
		t.Fatal("DialRaw still waiting on a silent broker well after its context was cancelled")
	}
}
