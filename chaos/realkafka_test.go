//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The faults of a real Apache Kafka cluster (3 KRaft nodes, the events
// topic at replication factor 3, min.insync.replicas=2, no unclean leader
// election) under the pipeline's load:
//
//	go test -tags chaos -run TestRealKafkaFaults -timeout 30m ./chaos
//
// Each fault gets a fresh cluster and a fresh pipeline; every event is
// accounted for as in TestLongFaults.

// realFault is one thing done to one node of the real cluster.
type realFault struct {
	name string
	// node picks the node: a partition leader, the active controller, the
	// bridges' group coordinator.
	node func(rk *testenv.RealKafka) (int, error)
	// pause is zero for kill -9 (restarted once the pipeline recovered
	// without it); else SIGSTOP for this long, then SIGCONT.
	pause time.Duration
}

var realFaults = []realFault{
	{name: "kill -9 leader of partition 0", node: func(rk *testenv.RealKafka) (int, error) { return rk.Leader(wire.DefaultTopic, 0) }},
	{name: "kill -9 active controller", node: (*testenv.RealKafka).ActiveController},
	// Past the bridges' consumer-group session timeout (10s) and ingest's
	// produce timeout (5s).
	{name: "SIGSTOP group coordinator 15s", pause: 15 * time.Second,
		node: func(rk *testenv.RealKafka) (int, error) { return rk.GroupCoordinator(wire.DefaultGroup) }},
	{name: "SIGSTOP leader of partition 1 15s", pause: 15 * time.Second,
		node: func(rk *testenv.RealKafka) (int, error) { return rk.Leader(wire.DefaultTopic, 1) }},
}

func TestRealKafkaFaults(t *testing.T) {
	for _, f := range realFaults {
		for _, seed := range seeds(t, "1") {
			t.Run(fmt.Sprintf("%s/seed%d", f.name, seed), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
				defer cancel()
				r, rk := newRealRun(t, seed)
				r.underLoad(ctx, "real Kafka ×3: "+f.name, func() { r.injectNode(ctx, rk, f) })
			})
		}
	}
}

// newRealRun is newRun with the stages on a real 3-node cluster instead
// of the embedded broker's process.
func newRealRun(t *testing.T, seed uint64) (*run, *testenv.RealKafka) {
	start := time.Now()
	rk := testenv.StartRealKafka(t, 3)
	rk.CreateTopic(t, wire.DefaultTopic, chaosPartitions)
	t.Logf("real kafka: 3 nodes and the topic up in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range rk.Nodes {
				t.Logf("node %d log ends:\n%s", n.ID, n.LogTail(15))
			}
		}
	})
	c := startRealCluster(t, rk)
	r := &run{t: t, c: c, seed: seed, settleFor: 90 * time.Second, rng: rand.New(rand.NewPCG(seed, 1)),
		l: newLedger(c.addr["http"], 60*time.Second)}
	r.v = c.startViewer(r.l)
	return r, rk
}

// startRealCluster is startCluster without the kafka stage: ingest, the
// bridge and the processor bootstrap from every node of rk.
func startRealCluster(t *testing.T, rk *testenv.RealKafka) *cluster {
	t.Helper()
	c := newCluster(t)
	c.addr["kafka"] = rk.Brokers()[0] // the harness's reads of the log at the end
	brokers := strings.Join(rk.Brokers(), ",")
	args := c.args()
	// The cluster is testenv's: this proc is never started, and has no crashes.
	c.procs[stKafka] = &proc{t: t, name: stKafka, log: filepath.Join(c.dir, "kafka.log")}
	stages := startOrder[1:]
	for _, name := range stages {
		a := args[name]
		for i := range a {
			if a[i] == "--kafka-brokers" {
				a[i+1] = brokers
			}
		}
	}
	c.launch(stages, args, 90*time.Second)
	return c
}

// injectNode applies f to its node and records the recovery time: from the
// fault until a viewer received a probe event's swarm sent after it. A
// killed node is restarted after that, and the time until it is back in
// every ISR of the topic is logged.
func (r *run) injectNode(ctx context.Context, rk *testenv.RealKafka, f realFault) {
	r.t.Helper()
	id, err := f.node(rk)
	if err != nil {
		r.t.Fatalf("%s: finding the node: %v", f.name, err)
	}
	n := rk.Node(id)
	t0 := time.Now()
	var t1 time.Time // when the node runs again
	if f.pause > 0 {
		n.Pause()
		select { // the length of the pause is the fault itself
		case <-time.After(f.pause):
		case <-ctx.Done():
		}
		n.Resume()
		t1 = time.Now()
	} else {
		n.Kill()
	}
	d := r.probe(ctx, t0)
	r.mu.Lock()
	r.recovery = append(r.recovery, d)
	r.mu.Unlock()
	r.note("%s (node %d): probe seen by a viewer %v after the fault", f.name, id, d.Round(time.Millisecond))
	if f.pause == 0 {
		if err := n.Restart(); err != nil {
			r.t.Fatal(err)
		}
		t1 = time.Now()
	}
	if !testenv.Until(3*time.Minute, func() bool { return rk.FullISR(wire.DefaultTopic, chaosPartitions) }) {
		r.note("%s: node %d not back in every ISR after 3 minutes", f.name, id)
		return
	}
	r.note("%s: node %d back in every ISR %v after its restart/resume (%v after the fault)", f.name, id,
		time.Since(t1).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}
