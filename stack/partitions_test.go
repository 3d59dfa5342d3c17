package stack_test

import (
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// TestEmbeddedTopicPartitions: a new data directory gets the stack's
// DefaultPartitions; one whose log already has the topic keeps its count,
// so an upgrade never re-partitions (or loses) a running log.
func TestEmbeddedTopicPartitions(t *testing.T) {
	t.Run("new data dir", func(t *testing.T) {
		st, _ := startAndRun(t, stack.Config{DataDir: t.TempDir(), Logger: testenv.Logger(t),
			WebSocketListens: []string{"127.0.0.1:0"}})
		if got := topicPartitions(t, st); got != stack.DefaultPartitions {
			t.Errorf("new data dir: %d partitions, want stack.DefaultPartitions (%d)", got, stack.DefaultPartitions)
		}
	})
	t.Run("data dir with the topic", func(t *testing.T) {
		dir := t.TempDir()
		b, err := broker.Start(broker.Config{DataDir: dir, Partitions: wire.DefaultPartitions})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		st, _ := startAndRun(t, stack.Config{DataDir: dir, Logger: testenv.Logger(t),
			WebSocketListens: []string{"127.0.0.1:0"}})
		if got := topicPartitions(t, st); got != wire.DefaultPartitions {
			t.Errorf("existing data dir: %d partitions, want the log's %d", got, wire.DefaultPartitions)
		}
	})
}

func topicPartitions(t *testing.T, st *stack.Stack) int {
	t.Helper()
	conn, err := kafka.Dial("tcp", st.KafkaBrokers()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(wire.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	return len(parts)
}
