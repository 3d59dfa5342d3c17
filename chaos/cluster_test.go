package chaos

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// binary is the emostream binary TestMain builds for this run.
var binary string

func TestMain(m *testing.M) {
	var cleanup func()
	var err error
	if binary, cleanup, err = testenv.BuildBinary("chaos"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Stage names, in pipeline start order.
const (
	stKafka     = "kafka"
	stHub       = "hub"
	stLeaf      = "leaf"
	stIngest    = "ingest"
	stBridge    = "bridge"
	stProcessor = "processor"
)

var startOrder = []string{stKafka, stHub, stLeaf, stIngest, stBridge, stProcessor}

// chaosPartitions keeps the two-core machine's work small.
const chaosPartitions = 4

// cluster is every stage as its own process, on fixed random loopback
// ports so that a restarted stage comes back where its peers look for it.
type cluster struct {
	t         testing.TB
	dir       string
	addr      map[string]string // kafka, nats, leafnodes, hubmon, ws, leafmon, http, bridgemet, procmet
	leafPass  string
	procs     map[string]*proc
	nc        *nats.Conn // the harness's own connection to the hub (STAGES account)
	js        jetstream.JetStream
	startedAt time.Time

	// The hub cluster's harness (hacluster_test.go) sets these; zero means
	// the single hub and leaf above.
	order    []string               // the stages, in start order; nil means startOrder
	env      map[string][]string    // per stage: KEY=VALUE added to its environment
	wrap     map[string][]string    // per stage: the command it runs under (ip netns exec NS)
	natsURL  string                 // the harness's hub URLs
	natsOpts []nats.Option          // and its credentials
	wsURL    string                 // the viewer's leaf URLs
	ready    map[string]func() bool // per stage: when it is ready, instead of the default
}

// startCluster starts every stage, each waited for, and stops them all when
// the test ends. extra adds flags per stage.
func startCluster(t testing.TB, extra map[string][]string) *cluster {
	t.Helper()
	c := newCluster(t)
	args := c.args()
	for _, name := range startOrder {
		args[name] = append(args[name], extra[name]...)
	}
	c.launch(startOrder, args, 60*time.Second)
	return c
}

// newCluster is a cluster not started yet, with a free loopback address
// per port.
func newCluster(t testing.TB) *cluster {
	c := &cluster{t: t, dir: t.TempDir(), addr: map[string]string{}, procs: map[string]*proc{},
		leafPass: fmt.Sprintf("chaos%d", time.Now().UnixNano())}
	for _, k := range []string{"kafka", "nats", "leafnodes", "hubmon", "ws", "leafmon", "http", "ingestops", "bridgemet", "procmet"} {
		c.addr[k] = testenv.FreeAddr()
	}
	return c
}

// launch starts stages in order with their args, each waited for up to
// timeout, and stops them all when the test ends.
func (c *cluster) launch(stages []string, args map[string][]string, timeout time.Duration) {
	c.t.Helper()
	for _, name := range stages {
		p := &proc{t: c.t, name: name, args: args[name], env: c.env[name], wrap: c.wrap[name], log: filepath.Join(c.dir, name+".log")}
		c.procs[name] = p
		c.t.Cleanup(p.kill)
	}
	for _, name := range stages {
		c.procs[name].start()
		c.waitReady(name, timeout)
	}
	c.startedAt = time.Now()
}

func (c *cluster) args() map[string][]string {
	a := c.addr
	natsURL := "nats://" + a["nats"]
	return map[string][]string{
		stKafka: {"kafka", "--data-dir", filepath.Join(c.dir, "broker"), "--listen", a["kafka"],
			"--partitions", strconv.Itoa(chaosPartitions)},
		stHub: {"hub", "--data-dir", filepath.Join(c.dir, "hub"), "--nats", a["nats"], "--leafnodes", a["leafnodes"],
			"--monitor", a["hubmon"], "--leaf-password", c.leafPass},
		stLeaf: {"leaf", "--name", "chaos-leaf", "--remote", "nats-leaf://leaf:" + c.leafPass + "@" + a["leafnodes"],
			"--ws", a["ws"], "--monitor", a["leafmon"]},
		stIngest: {"ingest", "--listen", a["http"], "--ops", a["ingestops"], "--kafka-brokers", a["kafka"],
			"--user-rate", "0", "--ip-rate", "0", "--nats", natsURL, "--auto-matches", "1000"},
		stBridge: {"bridge", "--kafka-brokers", a["kafka"], "--nats", natsURL, "--ops", a["bridgemet"],
			"--log-level", "info"},
		stProcessor: {"processor", "--kafka-brokers", a["kafka"], "--nats", natsURL, "--ops", a["procmet"]},
	}
}

// waitReady waits until the stage answers the way a healthy one does.
func (c *cluster) waitReady(name string, timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	ready := c.ready[name]
	if ready == nil {
		ready = c.defaultReady(name)
	}
	if !testenv.Until(timeout, ready) {
		c.t.Fatalf("%s not ready after %v; its log ends:\n%s", name, timeout, c.procs[name].logTail(30))
	}
	return time.Since(start)
}

// defaultReady is when a stage answers the way a healthy one does.
func (c *cluster) defaultReady(name string) func() bool {
	return map[string]func() bool{
		stKafka:     c.kafkaReady,
		stHub:       c.hubReady,
		stLeaf:      c.leafReady,
		stIngest:    func() bool { return httpStatus("http://"+c.addr["http"]+"/readyz") == 200 },
		stBridge:    func() bool { return metric(c.addr["bridgemet"], "emostream_bridge_partials_published_total") > 0 },
		stProcessor: func() bool { return httpStatus("http://"+c.addr["procmet"]+"/metrics") == 200 },
	}[name]
}

func (c *cluster) kafkaReady() bool {
	conn, err := kafka.DialContext(context.Background(), "tcp", c.addr["kafka"])
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	parts, err := conn.ReadPartitions(wire.DefaultTopic)
	return err == nil && len(parts) == chaosPartitions
}

func (c *cluster) hubReady() bool {
	if c.nc == nil {
		url := cmp.Or(c.natsURL, "nats://"+c.addr["nats"])
		nc, err := nats.Connect(url, append([]nats.Option{nats.MaxReconnects(-1),
			nats.ReconnectWait(50 * time.Millisecond), nats.Timeout(2 * time.Second)}, c.natsOpts...)...)
		if err != nil {
			return false
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return false
		}
		c.nc, c.js = nc, js
		c.t.Cleanup(nc.Close)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.js.AccountInfo(ctx)
	return err == nil
}

func (c *cluster) leafReady() bool {
	var leafz struct {
		Leafs int `json:"leafnodes"`
	}
	if err := getJSON("http://"+c.addr["hubmon"]+"/leafz", &leafz); err != nil || leafz.Leafs < 1 {
		return false
	}
	nc, err := nats.Connect("ws://"+c.addr["ws"], nats.Timeout(2*time.Second))
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

var probeClient = &http.Client{Timeout: 2 * time.Second}

func httpStatus(url string) int {
	res, err := probeClient.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func getJSON(url string, v any) error {
	res, err := probeClient.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}

// metric sums every series of a Prometheus counter or gauge on addr's
// /metrics; -1 when it cannot be read.
func metric(addr, name string) float64 {
	res, err := probeClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return -1
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// crashes lists the stage exits the harness did not cause.
func (c *cluster) crashes() []string {
	var out []string
	stages := c.order
	if stages == nil {
		stages = startOrder
	}
	for _, name := range stages {
		for _, cr := range c.procs[name].crashed() {
			out = append(out, cr+"\n"+c.procs[name].logTail(20))
		}
	}
	return out
}
