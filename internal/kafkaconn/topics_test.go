package kafkaconn_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
)

var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// TestTopicAdmin creates, describes and grows a topic over the admin
// protocol, on the embedded broker and on a real 3-node Apache Kafka:
// a second create is refused, a count below the topic's is refused and
// changes nothing, the same count changes nothing, describing a topic
// that does not exist does not create it.
func TestTopicAdmin(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		topicAdmin(t, []string{testenv.StartKafka(t, 1).Addr()}, 1)
	})
	t.Run("real-3-nodes", func(t *testing.T) {
		topicAdmin(t, realKafka.Get(t).Brokers(), 3)
	})
}

func topicAdmin(t *testing.T, brokers []string, rf int) {
	var c kafkaconn.Conn
	ctx := context.Background()
	spec := kafkaconn.TopicSpec{Name: "admin.test", Partitions: 3, ReplicationFactor: rf,
		Configs: map[string]string{"min.insync.replicas": "1", "unclean.leader.election.enable": "false"}}
	if err := c.CreateTopic(ctx, brokers, spec); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(ctx, brokers, spec); !errors.Is(err, kafka.TopicAlreadyExists) {
		t.Errorf("second create: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	wantPartitions(t, c, brokers, spec.Name, 3, rf)
	if had, err := c.AddPartitions(ctx, brokers, spec.Name, 5); err != nil || had != 3 {
		t.Fatalf("add to 5: had %d, %v", had, err)
	}
	wantPartitions(t, c, brokers, spec.Name, 5, rf)
	if had, err := c.AddPartitions(ctx, brokers, spec.Name, 5); err != nil || had != 5 {
		t.Errorf("add to 5 again: had %d, %v; want no change", had, err)
	}
	had, err := c.AddPartitions(ctx, brokers, spec.Name, 4)
	if !errors.Is(err, kafkaconn.ErrShrink) || had != 5 || !strings.Contains(err.Error(), "admin.test has 5 partitions, 4 would remove 1") {
		t.Errorf("shrink to 4: had %d, %v; want ErrShrink naming the counts", had, err)
	}
	wantPartitions(t, c, brokers, spec.Name, 5, rf)
	for range 2 { // the first must not create it
		if _, err := c.DescribeTopic(ctx, brokers, "admin.absent"); !errors.Is(err, kafkaconn.ErrNoTopic) {
			t.Fatalf("describe a topic that does not exist: %v, want ErrNoTopic", err)
		}
	}
}

// wantPartitions fails unless topic has n partitions, numbered from 0,
// each with a leader among rf replicas, all in sync.
func wantPartitions(t *testing.T, c kafkaconn.Conn, brokers []string, topic string, n, rf int) {
	t.Helper()
	info, err := c.DescribeTopic(context.Background(), brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Partitions) != n || len(info.Brokers) < rf {
		t.Fatalf("%s: %+v, want %d partitions on %d brokers", topic, info, n, rf)
	}
	for i, p := range info.Partitions {
		if int(p.ID) != i || p.Err != nil || !slices.Contains(p.Replicas, p.Leader) || len(p.Replicas) != rf || p.UnderReplicated() {
			t.Errorf("%s partition %d: %+v, want a leader among %d replicas, all in sync", topic, i, p, rf)
		}
	}
}

// TestTopicSpecRefused: a spec out of bounds is refused, naming the
// setting, before anything is sent (the broker address is unreachable).
func TestTopicSpecRefused(t *testing.T) {
	var c kafkaconn.Conn
	nowhere := []string{"127.0.0.1:1"}
	ok := kafkaconn.TopicSpec{Name: "t", Partitions: 8, ReplicationFactor: 3}
	tests := []struct {
		spec kafkaconn.TopicSpec
		want string
	}{
		{kafkaconn.TopicSpec{Partitions: 1, ReplicationFactor: 1}, `Name "": want 1 to 249`},
		{kafkaconn.TopicSpec{Name: "a b", Partitions: 1, ReplicationFactor: 1}, `Name "a b"`},
		{kafkaconn.TopicSpec{Name: "..", Partitions: 1, ReplicationFactor: 1}, `Name ".."`},
		{kafkaconn.TopicSpec{Name: strings.Repeat("x", 250), Partitions: 1, ReplicationFactor: 1}, "Name"},
		{kafkaconn.TopicSpec{Name: "t", Partitions: 0, ReplicationFactor: 1}, "Partitions 0: want 1 to 4096"},
		{kafkaconn.TopicSpec{Name: "t", Partitions: 1_000_000, ReplicationFactor: 1}, "Partitions 1000000: want 1 to 4096"},
		{kafkaconn.TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 0}, "ReplicationFactor 0: want 1 to 7"},
	}
	for _, tt := range tests {
		if err := c.CreateTopic(context.Background(), nowhere, tt.spec); !errors.Is(err, kafkaconn.ErrTopicSpec) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want ErrTopicSpec saying %q", tt.spec, err, tt.want)
		}
	}
	if _, err := c.AddPartitions(context.Background(), nowhere, ok.Name, 5000); !errors.Is(err, kafkaconn.ErrTopicSpec) {
		t.Errorf("add to 5000: %v, want ErrTopicSpec", err)
	}
	if _, err := c.DescribeTopic(context.Background(), nowhere, "bad/name"); !errors.Is(err, kafkaconn.ErrTopicSpec) {
		t.Errorf("describe bad/name: %v, want ErrTopicSpec", err)
	}
}

// TestTopicDescribeShowsAFailedNode: on a real 3-node Apache Kafka, after a
// kill -9 of one node, describe shows each partition under-replicated
// (the node out of the ISR, still a replica, no longer a leader), as the
// cluster sees it now, not as a client cached it; after the node's
// restart, in sync again.
func TestTopicDescribeShowsAFailedNode(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a real Kafka node: 30 s")
	}
	k := realKafka.Get(t)
	var c kafkaconn.Conn
	ctx := context.Background()
	const topic = "admin.kill"
	if err := c.CreateTopic(ctx, k.Brokers(), kafkaconn.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 3}); err != nil {
		t.Fatal(err)
	}
	wantPartitions(t, c, k.Brokers(), topic, 3, 3)
	dead := k.Node(3)
	dead.Kill()
	t.Cleanup(func() {
		if !dead.Running() {
			_ = dead.Restart()
		}
	})
	live := []string{k.Node(1).Addr, k.Node(2).Addr}
	var info kafkaconn.TopicInfo
	testenv.WaitFor(t, time.Minute, "node 3 out of every ISR", func() bool {
		var err error
		info, err = c.DescribeTopic(ctx, live, topic)
		return err == nil && !slices.ContainsFunc(info.Partitions, func(p kafkaconn.Partition) bool {
			return slices.Contains(p.ISR, 3) || p.Leader == 3 || p.Leader < 0
		})
	})
	for _, p := range info.Partitions {
		if !slices.Contains(p.Replicas, 3) || !p.UnderReplicated() {
			t.Errorf("partition %d with node 3 down: %+v, want node 3 a replica out of the ISR", p.ID, p)
		}
	}
	if err := dead.Restart(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, time.Minute, "node 3 back in every ISR", func() bool {
		info, err := c.DescribeTopic(ctx, k.Brokers(), topic)
		return err == nil && !slices.ContainsFunc(info.Partitions, kafkaconn.Partition.UnderReplicated)
	})
}
