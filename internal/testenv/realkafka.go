package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// RealKafkaVersion is the Apache Kafka release StartRealKafka runs; keep it
// in step with scripts/kafka/pom.xml and scripts/kafka-cluster.sh.
const RealKafkaVersion = "4.4.0"

// RealKafkaInstall is the command that installs what StartRealKafka needs.
const RealKafkaInstall = "apt-get install -y maven openjdk-17-jdk-headless && scripts/kafka-cluster.sh install"

// RealKafkaHome is where scripts/kafka-cluster.sh install puts the Kafka
// jars: $EMOSTREAM_KAFKA_HOME, else ~/.cache/emostream/kafka-<version>.
func RealKafkaHome() string {
	if h := os.Getenv("EMOSTREAM_KAFKA_HOME"); h != "" {
		return h
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "emostream", "kafka-"+RealKafkaVersion)
}

// realKafkaMissing says what is missing to run a real Kafka node, or "".
func realKafkaMissing() (java, home, missing string) {
	java = os.Getenv("JAVA")
	if java == "" {
		java = "java"
	}
	java, err := exec.LookPath(java)
	if err != nil {
		return "", "", "java (17 or newer)"
	}
	home = RealKafkaHome()
	if _, err := os.Stat(filepath.Join(home, "installed")); err != nil {
		return java, home, "the Apache Kafka jars in " + home
	}
	return java, home, ""
}

// RequireRealKafka skips the test, with the install command, when Java or
// the Kafka jars are missing, and fails it instead in CI (CI=true), as
// RequireTool does.
func RequireRealKafka(t testing.TB) {
	t.Helper()
	if _, _, missing := realKafkaMissing(); missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("a real Kafka cluster is required in CI; missing: %s; install with: %s", missing, RealKafkaInstall)
		}
		t.Skipf("no real Kafka cluster; missing: %s; install with: %s", missing, RealKafkaInstall)
	}
}

// RealKafka is a running Apache Kafka cluster of combined broker and
// controller nodes in KRaft mode, each a java process on loopback ports.
type RealKafka struct {
	Dir   string
	Nodes []*RealKafkaNode
	java  string
	home  string
}

// RealKafkaNode is one node of a RealKafka: node ID, client (broker) and
// controller addresses, its directory (server.properties, data/, kafka.log).
type RealKafkaNode struct {
	ID             int
	Addr           string
	ControllerAddr string
	Dir            string
	k              *RealKafka
	mu             sync.Mutex
	cmd            *exec.Cmd
	exited         chan struct{}
	paused         bool
}

// StartRealKafka starts a cluster of nodes (1 or 3) under the test's temp
// dir, stopped when the test ends. It skips or fails as RequireRealKafka.
func StartRealKafka(t testing.TB, nodes int) *RealKafka {
	t.Helper()
	RequireRealKafka(t)
	k, err := StartRealKafkaDir(nodes, t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(k.Stop)
	return k
}

// StartRealKafkaDir starts a cluster of nodes (1 or 3) with its files under
// dir, and returns once every node is a registered broker. The caller
// stops it.
func StartRealKafkaDir(nodes int, dir string) (*RealKafka, error) {
	for attempt := 1; ; attempt++ {
		k, err := startRealKafkaDir(nodes, dir)
		if err == nil || attempt == bindAttempts || !lostAPort(nodes, dir) {
			return k, err
		}
		// Another test binary bound a port between FreeAddr's probe and
		// the JVM's bind: start over on fresh storage and new ports.
		for i := 1; i <= nodes; i++ {
			if err := os.RemoveAll(nodeDir(dir, i)); err != nil {
				return nil, err
			}
		}
	}
}

// lostAPort reports whether a node's log under dir says it could not bind
// one of its ports (the exception is somewhere in the log, not always in
// its tail).
func lostAPort(nodes int, dir string) bool {
	for i := 1; i <= nodes; i++ {
		b, _ := os.ReadFile(filepath.Join(nodeDir(dir, i), "kafka.log"))
		if bytes.Contains(b, []byte("Address already in use")) {
			return true
		}
	}
	return false
}

// nodeDir is where node i of a cluster under dir keeps its files.
func nodeDir(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("node%d", i)) }

// kafkaAddr gives the nodes' ports; a test replaces it.
var kafkaAddr = FreeAddr

// bindAttempts is how many times StartRealKafkaDir starts a cluster whose
// node lost a port to another process.
const bindAttempts = 3

func startRealKafkaDir(nodes int, dir string) (*RealKafka, error) {
	java, home, missing := realKafkaMissing()
	if missing != "" {
		return nil, fmt.Errorf("real kafka: missing %s: %s", missing, RealKafkaInstall)
	}
	if nodes != 1 && nodes != 3 {
		return nil, fmt.Errorf("real kafka: %d nodes, want 1 or 3", nodes)
	}
	k := &RealKafka{Dir: dir, java: java, home: home}
	var voters []string
	for i := 1; i <= nodes; i++ {
		n := &RealKafkaNode{ID: i, Addr: kafkaAddr(), ControllerAddr: kafkaAddr(), Dir: nodeDir(dir, i), k: k}
		k.Nodes = append(k.Nodes, n)
		voters = append(voters, fmt.Sprintf("%d@%s", i, n.ControllerAddr))
	}
	if err := k.format(strings.Join(voters, ",")); err != nil {
		return nil, err
	}
	for _, n := range k.Nodes {
		if err := n.start(); err != nil {
			k.Stop()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := k.waitBrokers(ctx, nodes); err != nil {
		k.Stop()
		return nil, err
	}
	return k, nil
}

// FreeAddr is a loopback address that was free a moment ago: for a
// server that must come back on the same port after a restart. It is
// below the kernel's ephemeral range, so no test asking for ":0" is given
// it between this probe and the server's bind (Kafka's JVM binds seconds
// later), and one test binary is not given the same port twice: the ports
// are walked in order from a random start, as the kernel walks its own,
// so two calls (a test's several servers) cannot draw the same one, and
// two test binaries only meet if their walks overlap.
func FreeAddr() string {
	freePorts.once.Do(freePorts.init)
	for range 100 {
		if freePorts.span <= 0 {
			break
		}
		n := freePorts.next.Add(1)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePorts.low+int((freePorts.start+n)%int64(freePorts.span))))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("testenv: no free port: %v", err))
	}
	defer ln.Close()
	return ln.Addr().String()
}

// portWalk is FreeAddr's walk: ports low to low+span (below the
// ephemeral range), from start, one step per call.
type portWalk struct {
	once      sync.Once
	low, span int
	start     int64
	next      atomic.Int64
}

var freePorts portWalk

func (w *portWalk) init() {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				lo = n
			}
		}
	}
	w.low, w.span = 10000, lo-10000
	if w.span > 0 {
		w.start = mrand.Int64N(int64(w.span))
	}
}

// format writes every node's server.properties and formats its storage
// with one cluster ID, all nodes at once.
func (k *RealKafka) format(voters string) error {
	id := make([]byte, 16)
	rand.Read(id)
	clusterID := base64.RawURLEncoding.EncodeToString(id)
	errs := make([]error, len(k.Nodes))
	var wg sync.WaitGroup
	for i, n := range k.Nodes {
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(n.props(), []byte(n.properties(len(k.Nodes), voters)), 0o644); err != nil {
			return err
		}
		wg.Go(func() {
			out, err := exec.Command(k.java, k.jvmArgs(false, "kafka.tools.StorageTool", "format",
				"--cluster-id="+clusterID, "-c", n.props(), "--ignore-formatted")...).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("real kafka: formatting node %d: %v\n%s", n.ID, err, out)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// jvmArgs are the java arguments to run main; a server gets a fixed small
// heap and G1 with short pauses.
func (k *RealKafka) jvmArgs(server bool, main string, args ...string) []string {
	out := []string{"-Djava.awt.headless=true", "-Dlog4j2.configurationFile=" + filepath.Join(k.home, "log4j2.properties")}
	if server {
		out = append(out, "-Xms384m", "-Xmx384m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20")
	} else {
		out = append(out, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
	}
	out = append(out, "-cp", filepath.Join(k.home, "libs", "*"), main)
	return append(out, args...)
}

func (n *RealKafkaNode) props() string { return filepath.Join(n.Dir, "server.properties") }

// properties is the node's server.properties, as scripts/kafka-cluster.sh
// writes it: topics default to RF min(3, nodes), min.insync.replicas
// min(2, nodes), no unclean leader election.
func (n *RealKafkaNode) properties(nodes int, voters string) string {
	rf, isr := min(3, nodes), min(2, nodes)
	return fmt.Sprintf(`process.roles=broker,controller
node.id=%d
controller.quorum.voters=%s
listeners=PLAINTEXT://%s,CONTROLLER://%s
advertised.listeners=PLAINTEXT://%s
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%s
default.replication.factor=%d
min.insync.replicas=%d
unclean.leader.election.enable=false
auto.create.topics.enable=false
offsets.topic.replication.factor=%d
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=%d
transaction.state.log.min.isr=%d
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
background.threads=4
log.segment.bytes=67108864
`, n.ID, voters, n.Addr, n.ControllerAddr, n.Addr, filepath.Join(n.Dir, "data"), rf, isr, rf, rf, isr)
}

// start runs the node's java process, its output appended to kafka.log.
// It is killed with the test binary (Pdeathsig).
func (n *RealKafkaNode) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	log, err := os.OpenFile(filepath.Join(n.Dir, "kafka.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.k.java, n.k.jvmArgs(true, "kafka.Kafka", n.props())...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("real kafka: starting node %d: %w", n.ID, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(exited) }()
	n.cmd, n.exited, n.paused = cmd, exited, false
	return nil
}

// Running reports whether the node's process is alive (paused counts).
func (n *RealKafkaNode) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kill ends the node with SIGKILL, as a crash, and waits for it to exit.
func (n *RealKafkaNode) Kill() { n.signal(syscall.SIGKILL, true) }

// Terminate stops the node with SIGTERM (a controlled shutdown: it hands
// its leaderships over first) and waits for it to exit.
func (n *RealKafkaNode) Terminate() { n.signal(syscall.SIGTERM, true) }

// Pause freezes the node with SIGSTOP: it holds its connections open and
// answers nothing, as a long GC pause or a hung machine.
func (n *RealKafkaNode) Pause() {
	n.signal(syscall.SIGSTOP, false)
	n.mu.Lock()
	n.paused = true
	n.mu.Unlock()
}

// Resume continues a paused node.
func (n *RealKafkaNode) Resume() {
	n.signal(syscall.SIGCONT, false)
	n.mu.Lock()
	n.paused = false
	n.mu.Unlock()
}

// Restart starts a killed or terminated node again on its ports and data.
func (n *RealKafkaNode) Restart() error {
	if n.Running() {
		return fmt.Errorf("real kafka: node %d is running", n.ID)
	}
	return n.start()
}

func (n *RealKafkaNode) signal(sig syscall.Signal, wait bool) {
	n.mu.Lock()
	cmd, exited, paused := n.cmd, n.exited, n.paused
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	if wait && paused && sig != syscall.SIGKILL {
		cmd.Process.Signal(syscall.SIGCONT) // a stopped JVM cannot handle SIGTERM
	}
	cmd.Process.Signal(sig)
	if !wait {
		return
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Stop ends every node with SIGKILL: the cluster's data is thrown away,
// and a controlled shutdown of all nodes at once waits for a controller
// quorum that is going away too.
func (k *RealKafka) Stop() {
	for _, n := range k.Nodes {
		n.Kill()
	}
}

// Brokers are the nodes' client addresses, the bootstrap list.
func (k *RealKafka) Brokers() []string {
	out := make([]string, len(k.Nodes))
	for i, n := range k.Nodes {
		out[i] = n.Addr
	}
	return out
}

// Node is the node of a node ID.
func (k *RealKafka) Node(id int) *RealKafkaNode { return k.Nodes[id-1] }

// LogTail is the last lines of a node's kafka.log, for failure messages.
func (n *RealKafkaNode) LogTail(lines int) string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "kafka.log"))
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}

// SharedRealKafka is one real cluster for a test binary, started by the
// first test that asks for it and stopped by Main after the last:
//
//	var realKafka = testenv.NewSharedRealKafka(3)
//	func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }
type SharedRealKafka struct {
	nodes int
	once  sync.Once
	k     *RealKafka
	dir   string
	err   error
}

// NewSharedRealKafka describes a shared cluster of nodes (1 or 3).
func NewSharedRealKafka(nodes int) *SharedRealKafka { return &SharedRealKafka{nodes: nodes} }

// Get returns the cluster, starting it on first use. It skips or fails
// the test as RequireRealKafka does, and fails it if the cluster did not
// start.
func (s *SharedRealKafka) Get(t testing.TB) *RealKafka {
	t.Helper()
	RequireRealKafka(t)
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "emostream-kafka-"); s.err != nil {
			return
		}
		start := time.Now()
		s.k, s.err = StartRealKafkaDir(s.nodes, s.dir)
		if s.err == nil {
			t.Logf("real kafka: %d nodes started in %v: %v", s.nodes, time.Since(start).Round(time.Millisecond), s.k.Brokers())
		}
	})
	if s.err != nil {
		t.Fatalf("testenv: %v", s.err)
	}
	return s.k
}

// Main runs the tests and then stops the cluster if one started; its
// result is the exit code.
func (s *SharedRealKafka) Main(m *testing.M) int {
	code := m.Run()
	if s.k != nil {
		s.k.Stop()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	return code
}
