package testenv

import (
	"context"
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/wire"
)

// KafkaTarget is a Kafka a suite runs on: the embedded broker (Embedded)
// or a real Apache Kafka cluster (Real), with the events topic the test
// uses on it.
type KafkaTarget struct {
	// Name is "embedded" or "real-3-nodes".
	Name       string
	Brokers    []string
	Topic      string
	Partitions int32
	// Group is a consumer group name of this test alone.
	Group    string
	Embedded *Kafka
	Real     *RealKafka
}

var topicSeq atomic.Int64

var notTopic = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// OnEachKafka runs f as two subtests, one on a fresh embedded broker and
// one on real's shared cluster, each with an events topic of partitions
// (a topic of this test alone on the shared cluster: at replication factor
// 3, min.insync.replicas=2, no unclean leader election).
func OnEachKafka(t *testing.T, real *SharedRealKafka, partitions int32, f func(t *testing.T, k KafkaTarget)) {
	t.Run("embedded", func(t *testing.T) {
		f(t, StartKafka(t, partitions).Target())
	})
	t.Run(fmt.Sprintf("real-%d-nodes", real.nodes), func(t *testing.T) {
		f(t, OnRealKafka(t, real, partitions))
	})
}

// Target is the embedded broker as a KafkaTarget: its address, its events
// topic and the default group.
func (k *Kafka) Target() KafkaTarget {
	return KafkaTarget{Name: "embedded", Brokers: []string{k.Addr()}, Topic: k.Topic, Partitions: k.Partitions,
		Group: wire.DefaultGroup, Embedded: k}
}

// OnRealKafka is the target of real's shared cluster with a new events
// topic of partitions and a new group name.
func OnRealKafka(t testing.TB, real *SharedRealKafka, partitions int32) KafkaTarget {
	t.Helper()
	k := real.Get(t)
	name := fmt.Sprintf("%s.%s.%d", wire.DefaultTopic, notTopic.ReplaceAllString(t.Name(), "_"), topicSeq.Add(1))
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	k.CreateTopic(t, name, partitions)
	return KafkaTarget{Name: fmt.Sprintf("real-%d-nodes", len(k.Nodes)), Brokers: k.Brokers(), Topic: name,
		Partitions: partitions, Group: "group." + name, Real: k}
}

// WarmUp writes one record (value "warm-up", not an event) to every
// partition of the target's topic at acks=all, retrying until each is
// acknowledged: on a real cluster just started on a busy machine, the
// first produces to a new topic can outlast a produce timeout while the
// followers start fetching. The records count as bad records to a bridge.
func (k KafkaTarget) WarmUp(t testing.TB) {
	t.Helper()
	var p int
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Topic: k.Topic, RequiredAcks: kafka.RequireAll,
		Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return p }), BatchTimeout: time.Millisecond,
		Transport: &kafka.Transport{}}
	defer w.Close()
	for p = range int(k.Partitions) {
		WaitFor(t, time.Minute, fmt.Sprintf("a warm-up record acknowledged by %s/%d", k.Topic, p), func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return w.WriteMessages(ctx, kafka.Message{Value: []byte("warm-up")}) == nil
		})
	}
}

// EndOffsets are the end offsets (high watermarks) of every partition of
// the target's topic, asked of the partitions' leaders.
func (k KafkaTarget) EndOffsets(t testing.TB) []int64 {
	t.Helper()
	var out []int64
	var last error
	// A partition whose leader was just elected answers a retriable error
	// (OFFSET_NOT_AVAILABLE until its high watermark catches up): asked
	// again until every partition answers, for at most a minute.
	if !Until(time.Minute, func() bool { out, last = k.endOffsets(); return last == nil }) {
		t.Fatalf("listing end offsets: %v", last)
	}
	return out
}

func (k KafkaTarget) endOffsets() ([]int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	defer c.Transport.(*kafka.Transport).CloseIdleConnections()
	reqs := make([]kafka.OffsetRequest, k.Partitions)
	for p := range reqs {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	res, err := c.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{k.Topic: reqs}})
	if err != nil {
		return nil, err
	}
	out := make([]int64, k.Partitions)
	for _, po := range res.Topics[k.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}
