package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/testenv"
)

// A 3-node KRaft cluster starts, creates a replicated topic, takes writes
// at acks=all, names its partition leaders and active controller, and
// keeps every acknowledged record across a kill -9 and restart of a
// partition's leader.
func TestRealKafkaCluster(t *testing.T) {
	start := time.Now()
	k := testenv.StartRealKafka(t, 3)
	t.Logf("3 nodes up in %v", time.Since(start).Round(time.Millisecond))
	k.CreateTopic(t, "testenv.real", 2)
	ctrl, err := k.ActiveController()
	if err != nil || ctrl < 1 || ctrl > 3 {
		t.Fatalf("active controller %d, %v", ctrl, err)
	}
	leader, err := k.Leader("testenv.real", 0)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers()...), Topic: "testenv.real", RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.LeastBytes{}, BatchTimeout: time.Millisecond, MaxAttempts: 20}
	defer w.Close()
	write := func(n int) {
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			msgs[i] = kafka.Message{Value: []byte("x")}
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatalf("writing: %v", err)
		}
	}
	write(100)
	k.Node(leader).Kill()
	testenv.WaitFor(t, time.Minute, "a new leader of partition 0", func() bool {
		l, err := k.Leader("testenv.real", 0)
		return err == nil && l != leader
	})
	write(100) // two replicas left: min.insync.replicas=2 still holds
	if err := k.Node(leader).Restart(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 2*time.Minute, "the restarted node back in every ISR", func() bool { return k.FullISR("testenv.real", 2) })
	total := records(t, testenv.KafkaTarget{Brokers: k.Brokers(), Topic: "testenv.real", Partitions: 2})
	if total != 200 {
		t.Errorf("%d records after the leader's crash, want 200", total)
	}
}
