package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestKafkaClusterScriptSecure starts scripts/kafka-cluster.sh start -n 3
// --secure, as docs/operations.md does, and talks to it with the stages'
// own Kafka security code (internal/kafkaconn, kafka-go) configured from
// the flags the script prints (its certificates from emostream certs, no
// openssl): the documented partition count, a produce
// at acks=all as emostream-ingest (replicated broker to broker over
// SASL_SSL) read back by a consumer group as emostream-bridge, and a wrong
// password, no SASL and no TLS refused. Behind the real-Kafka gate of the
// other suites (Java and the jars of scripts/kafka-cluster.sh install;
// ~25 s to start here); not in -short.
//
// kcat is not used: Debian 12's kcat (librdkafka 2.0.2) fails SCRAM
// against Kafka 4 brokers (edenhill/kcat#462; librdkafka 2.6.1 works).
func TestKafkaClusterScriptSecure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Apache Kafka cluster (~25 s)")
	}
	testenv.RequireRealKafka(t)
	dir := t.TempDir()
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join("..", "scripts", "kafka-cluster.sh"), "start", "-n", "3", "--secure", "-d", dir)
	cmd.Env = append(os.Environ(), "PATH="+failingOpenSSL(t)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"EMOSTREAM="+binary) // TestMain's build: no second go build beside the other suites
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t.Cleanup(func() { killNodes(t, dir) })
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kafka-cluster.sh start --secure: %v\n%s", err, stderr.String())
	}
	t.Logf("3 secure nodes started in %v", time.Since(start).Round(100*time.Millisecond))
	brokers := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(brokers) != 3 {
		t.Fatalf("stdout %q: want the 3 brokers' bootstrap list", out)
	}

	// The flags the script tells the stages to use, as printed.
	printed := map[string]string{}
	for _, m := range regexp.MustCompile(`--(kafka-[a-z-]+) (\S+)`).FindAllStringSubmatch(stderr.String(), -1) {
		printed[m[1]] = m[2]
	}
	if printed["kafka-brokers"] != strings.Join(brokers, ",") || printed["kafka-sasl"] != "scram-sha-512" ||
		printed["kafka-user"] != "emostream-ingest" {
		t.Fatalf("printed flags %v; want --kafka-brokers, --kafka-ca, --kafka-sasl scram-sha-512, --kafka-user emostream-ingest, "+
			"--kafka-password-file:\n%s", printed, stderr.String())
	}
	as := func(user, password string) kafkaconn.Conn {
		t.Helper()
		s := kafkaconn.Security{CAFile: printed["kafka-ca"], SASL: printed["kafka-sasl"], User: user, Password: password}
		if password == "" {
			s.PasswordFile = strings.Replace(printed["kafka-password-file"], "emostream-ingest", user, 1)
		}
		c, err := s.Build()
		if err != nil {
			t.Fatalf("the printed flags as %s: %v", user, err)
		}
		return c
	}
	checkSecretFiles(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ingest := as("emostream-ingest", "")
	conn, err := ingest.Dialer("test").DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		t.Fatalf("dial as emostream-ingest: %v", ingest.Explain(err))
	}
	parts, err := conn.ReadPartitions(wire.DefaultTopic)
	conn.Close()
	if err != nil || len(parts) != wire.DefaultPartitions {
		t.Fatalf("%s: %d partitions (%v); want the documented %d", wire.DefaultTopic, len(parts), err, wire.DefaultPartitions)
	}
	for _, p := range parts {
		if len(p.Replicas) != 3 {
			t.Errorf("partition %d: %d replicas, want 3", p.ID, len(p.Replicas))
		}
	}

	// acks=all with min.insync.replicas 2: each write reaches a follower
	// over the brokers' own SASL_SSL listener.
	const n = 200
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: wire.DefaultTopic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, Transport: ingest.Transport("test-ingest"), BatchTimeout: 10 * time.Millisecond}
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("u-%d", i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce as emostream-ingest at acks=all: %v", ingest.Explain(err))
	}
	w.Close()

	bridge := as("emostream-bridge", "")
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "emostream-bridge", Topic: wire.DefaultTopic,
		Dialer: bridge.Dialer("test-bridge"), StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("consume as emostream-bridge in group emostream-bridge after %d of %d: %v", len(seen), n, bridge.Explain(err))
		}
		seen[string(m.Value)] = true
	}

	// The bridge's fetch connection (its own TLS and SCRAM exchange).
	rc, err := bridge.DialRaw(ctx, brokers[1], "test-bridge-fetch")
	if err != nil {
		t.Fatalf("the bridge's fetch connection: %v", err)
	}
	if v := rc.Versions[protocol.Fetch]; v < 11 {
		t.Errorf("the brokers answer Fetch up to version %d; the bridge needs 11", v)
	}
	rc.Close()

	// What is refused.
	if err := as("emostream-bridge", "wrong").Check(ctx, brokers, "test"); !errors.Is(err, kafkaconn.ErrRefused) {
		t.Errorf("a wrong password: %v; want the broker's refusal", err)
	}
	if _, err := as("emostream-bridge", "wrong").DialRaw(ctx, brokers[1], "test"); !errors.Is(err, kafkaconn.ErrRefused) {
		t.Errorf("a wrong password on the fetch connection: %v; want the broker's refusal", err)
	}
	tlsOnly, _ := kafkaconn.Security{CAFile: printed["kafka-ca"]}.Build()
	for what, c := range map[string]kafkaconn.Conn{"TLS without SASL": tlsOnly, "plaintext": {}} {
		cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
		conn, err := c.Dialer("test").DialContext(cctx, "tcp", brokers[0])
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = conn.ReadPartitions(wire.DefaultTopic)
			conn.Close()
		}
		ccancel()
		if err == nil {
			t.Errorf("%s: read the topic's metadata; want it refused", what)
		}
	}
}

// failingOpenSSL is a directory with an openssl that fails: the script
// makes its certificates with emostream certs, its passwords from
// /dev/urandom.
func failingOpenSSL(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "openssl"), []byte("#!/bin/sh\necho \"openssl $*: not to be used\" >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkSecretFiles: the passwords and keys the script wrote are the
// user's alone.
func checkSecretFiles(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "secrets", "*.password"))
	users := []string{"broker", "emostream", "emostream-bridge", "emostream-ingest", "emostream-processor"}
	var got []string
	for _, f := range files {
		got = append(got, strings.TrimSuffix(filepath.Base(f), ".password"))
	}
	if slices.Sort(got); !slices.Equal(got, users) {
		t.Errorf("secrets/: %v, want a password for each of %v", got, users)
	}
	more, _ := filepath.Glob(filepath.Join(dir, "node*", "server.properties")) // the broker's password
	files = append(files, more...)
	files = append(files, filepath.Join(dir, "tls", "ca-key.pem"), filepath.Join(dir, "tls", "broker-keystore.pem"),
		filepath.Join(dir, "client.properties"), filepath.Join(dir, "kcat.conf"))
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v, mode %v; want it readable by its owner only", f, err, fi.Mode())
		}
	}
}

// killNodes ends the nodes the script started in dir (their pid files)
// with SIGKILL: the data is thrown away, and a controlled shutdown of all
// three at once waits for a quorum that is going away too.
func killNodes(t *testing.T, dir string) {
	pids, _ := filepath.Glob(filepath.Join(dir, "node*", "pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || perr != nil || pid <= 1 {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		deadline := time.Now().Add(30 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling a process we cannot wait for (not our child)
		}
	}
}
