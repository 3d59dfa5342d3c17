package ingest_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// startIngestOn runs a server against the target's brokers and topic,
// as startIngest does against an embedded broker.
func startIngestOn(t testing.TB, k testenv.KafkaTarget, cfg ingest.Config) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener, cfg.KafkaBrokers, cfg.Topic, cfg.Logger = ln, k.Brokers, k.Topic, testenv.Logger(t)
	srv, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	st := &stack{srv: srv, url: "http://" + ln.Addr().String(), ops: "http://" + srv.OpsAddr().String()}
	var stopped bool
	var runErr error
	st.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := st.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	st.waitReady(t, true)
	return st
}

// endOffsetsOn are the end offsets of every partition of the target's topic.
func endOffsetsOn(t testing.TB, k testenv.KafkaTarget) []int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	defer c.Transport.(*kafka.Transport).CloseIdleConnections()
	reqs := make([]kafka.OffsetRequest, k.Partitions)
	for p := range reqs {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	res, err := c.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{k.Topic: reqs}})
	if err != nil {
		t.Fatalf("listing offsets: %v", err)
	}
	out := make([]int64, k.Partitions)
	for _, po := range res.Topics[k.Topic] {
		if po.Error != nil {
			t.Fatalf("offsets of partition %d: %v", po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out
}

// readRangeOn reads, with kafka-go, every record from offsets from up to to.
func readRangeOn(t testing.TB, k testenv.KafkaTarget, from, to []int64) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	for p := range to {
		if to[p] == from[p] {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: k.Topic, Partition: p, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(from[p]); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for off := from[p]; off < to[p]; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading partition %d at %d: %v", p, off, err)
			}
			out = append(out, m)
		}
		cancel()
		r.Close()
	}
	return out
}

// readKcatOn reads every partition from offsets from up to to with kcat,
// bootstrapping from all the target's brokers.
func readKcatOn(t *testing.T, k testenv.KafkaTarget, from, to []int64) []stored {
	t.Helper()
	kcat := testenv.RequireTool(t, "kcat", "apt-get install -y kcat")
	var out []stored
	for p := range to {
		n := to[p] - from[p]
		if n == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, kcat, "-C", "-q", "-b", joinAddrs(k.Brokers), "-t", k.Topic, "-p", strconv.Itoa(p),
			"-o", strconv.FormatInt(from[p], 10), "-c", strconv.FormatInt(n, 10), "-e", "-f", "%p\t%k\t%T\t%s\n")
		b, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
		out = append(out, parseKcat(t, b)...)
	}
	return out
}

func joinAddrs(addrs []string) string {
	s := ""
	for i, a := range addrs {
		if i > 0 {
			s += ","
		}
		s += a
	}
	return s
}

// Posted events land in Kafka once each, keyed, timestamped and
// partitioned as promised, on both brokers, in either ack mode; kafka-go
// and kcat read back the same.
func TestOnEachKafkaRecordsReadBack(t *testing.T) {
	for _, ack := range []ingest.AckMode{ingest.AckAll, ingest.AckBuffered} {
		t.Run(string(ack), func(t *testing.T) {
			testenv.OnEachKafka(t, realKafka, 4, func(t *testing.T, k testenv.KafkaTarget) {
				if k.Real != nil {
					k.WarmUp(t)
				}
				st := startIngestOn(t, k, ingest.Config{Ack: ack})
				before := endOffsetsOn(t, k)
				var reqs []sent
				for i := range 20 {
					reqs = append(reqs, postTracked(t, st, fmt.Sprintf("single%d", i), []string{fmt.Sprintf("user-%d", i)}, "🔥"))
				}
				for i := range 3 {
					reqs = append(reqs, postTracked(t, st, fmt.Sprintf("array%d", i), users(fmt.Sprintf("fan%d", i), 50), "👏"))
				}
				if err := st.stop(); err != nil { // buffered: flushes what it answered
					t.Fatal(err)
				}
				after := endOffsetsOn(t, k)
				if sum(after)-sum(before) != 20+150 {
					t.Fatalf("end offsets grew by %d, want 170", sum(after)-sum(before))
				}
				t.Run("kafka-go", func(t *testing.T) { checkStored(t, reqs, fromKafkaGo(t, readRangeOn(t, k, before, after)), 4) })
				t.Run("kcat", func(t *testing.T) { checkStored(t, reqs, readKcatOn(t, k, before, after), 4) })
			})
		})
	}
}

// On the real cluster, the leader of a partition is killed (kill -9) while
// requests keep coming: every event answered 202 is in Kafka (a producer
// retry may store one twice; the bridge counts it once by event_id), and
// ingest answers 202 again once a new leader is elected.
func TestRealKafkaLeaderKilledUnderIngest(t *testing.T) {
	k := testenv.OnRealKafka(t, realKafka, 4)
	k.WarmUp(t)
	st := startIngestOn(t, k, ingest.Config{})
	before := endOffsetsOn(t, k)
	leader, err := k.Real.Leader(k.Topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	node := k.Real.Node(leader)
	t.Cleanup(func() { // leave the shared cluster whole
		if !node.Running() {
			if err := node.Restart(); err != nil {
				t.Error(err)
			}
		}
		testenv.WaitFor(t, 2*time.Minute, "every ISR full again", func() bool { return k.Real.FullISR(k.Topic, k.Partitions) })
	})
	accepted := map[string]bool{}
	var refused int
	post := func(i int) {
		id := fmt.Sprintf("ev-%d", i)
		r := st.post(t, fmt.Sprintf(`{"user_id":"u-%d","match_id":"final-2026","emoji_type":"🔥","event_id":%q}`, i, id))
		switch r.status {
		case http.StatusAccepted:
			accepted[id] = true
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	i := 0
	for ; i < 200; i++ {
		post(i)
	}
	node.Kill()
	killedAt := time.Now()
	for ; i < 400; i++ { // bounded: the failover happens within these
		post(i)
	}
	testenv.WaitFor(t, time.Minute, "a 202 after the failover", func() bool {
		i++
		post(i)
		return accepted[fmt.Sprintf("ev-%d", i)]
	})
	t.Logf("leader %d killed: %d accepted, %d refused (503), answering again %v after the kill",
		leader, len(accepted), refused, time.Since(killedAt).Round(time.Millisecond))
	after := endOffsetsOn(t, k)
	stored := map[string]int{}
	for _, g := range fromKafkaGo(t, readRangeOn(t, k, before, after)) {
		stored[g.rec.EventID]++
	}
	for id := range accepted {
		if stored[id] == 0 {
			t.Errorf("event %s answered 202 but not in kafka", id)
		}
	}
}
