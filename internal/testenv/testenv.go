// Package testenv starts the real servers EmoStream's tests talk to: the
// embedded Kafka-protocol broker and an embedded nats-server with JetStream,
// each on a random loopback port with its data in the test's temp dir, and
// stops them when the test ends. It also has WaitFor, the way tests wait for
// a condition instead of sleeping.
package testenv

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/wire"
)

// Kafka is a running embedded broker.
type Kafka struct {
	*broker.Broker
	DataDir    string
	Topic      string
	Partitions int32
	t          testing.TB
	addr       string
	sec        KafkaSecurity // kafkasec.go
}

// StartKafka starts the embedded broker on 127.0.0.1 with the events topic
// of the given partition count (0 means wire.DefaultPartitions), persisted
// with synced writes under a temp dir. It stops when the test ends.
func StartKafka(t testing.TB, partitions int32) *Kafka {
	t.Helper()
	if partitions == 0 {
		partitions = wire.DefaultPartitions
	}
	k := &Kafka{DataDir: t.TempDir(), Topic: wire.DefaultTopic, Partitions: partitions, t: t, addr: "127.0.0.1:0"}
	k.start()
	return k
}

func (k *Kafka) start() {
	k.t.Helper()
	ln, err := net.Listen("tcp", k.addr)
	if err != nil {
		k.t.Fatalf("testenv: kafka listen: %v", err)
	}
	b, err := broker.Start(broker.Config{DataDir: k.DataDir, Listener: ln, Topic: k.Topic, Partitions: k.Partitions,
		TLS: k.sec.TLS, Users: k.sec.Users, Logger: Logger(k.t)})
	if err != nil {
		k.t.Fatalf("testenv: %v", err)
	}
	k.Broker, k.addr = b, b.Addr()
	k.t.Cleanup(b.Close)
}

// Stop closes the broker; Start brings it back on the same port and data dir.
func (k *Kafka) Stop() { k.Broker.Close() }

// Start restarts a stopped broker on the same address and data directory.
func (k *Kafka) Start() { k.start() }

// NATS is a running embedded nats-server with JetStream.
type NATS struct {
	Server  *server.Server
	URL     string
	DataDir string
	t       testing.TB
	opts    server.Options
}

// StartNATS starts a nats-server on a random loopback port with JetStream
// stored under a temp dir, syncing every write. It stops when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{DataDir: t.TempDir(), t: t}
	n.opts = server.Options{
		ServerName: "testenv-hub",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   filepath.Join(n.DataDir, "jetstream"),
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
	}
	n.start()
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	opts := n.opts
	s, err := server.NewServer(&opts)
	if err != nil {
		n.t.Fatalf("testenv: nats: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatalf("testenv: nats not ready")
	}
	n.Server, n.URL = s, s.ClientURL()
	n.opts.Port = s.Addr().(*net.TCPAddr).Port // restart on the same port
	n.t.Cleanup(s.Shutdown)
}

// Restart shuts the server down and starts it again on the same port and
// store, as after a crash of the hub.
func (n *NATS) Restart() {
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
	n.start()
}

// Connect returns a client connection and its JetStream context, closed when
// the test ends.
func (n *NATS) Connect() (*nats.Conn, jetstream.JetStream) {
	n.t.Helper()
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		n.t.Fatalf("testenv: nats connect: %v", err)
	}
	n.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		n.t.Fatalf("testenv: jetstream: %v", err)
	}
	return nc, js
}

// WaitFor polls cond until it is true, failing the test with msg if it is
// still false after timeout. Tests wait for conditions, never for time.
func WaitFor(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	if !Until(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, msg)
	}
}

// Until polls cond until it holds or timeout passes, and reports which:
// WaitFor for a caller that says itself what did not happen.
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait) // a poll interval, not a synchronisation
	}
}

// Logger returns a slog logger that writes through t.Log, at debug level
// when EMOSTREAM_TEST_LOG is set, else warnings and errors only.
func Logger(t testing.TB) *slog.Logger {
	lv := slog.LevelWarn
	if os.Getenv("EMOSTREAM_TEST_LOG") != "" {
		lv = slog.LevelDebug
	}
	w := &tWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}

// LogBuffer collects what a logger writes, for a test to read while the
// code under test may still be writing:
// slog.New(slog.NewTextHandler(&buf, nil)).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// tWriter drops what is logged after the test ended, when t.Log would panic.
type tWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// RequireTool skips the test when the named program is missing, or fails it
// when CI=true, with the command that installs it.
func RequireTool(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI: %s", name, install)
	}
	t.Skipf("%s not installed; install it with: %s", name, install)
	return ""
}
