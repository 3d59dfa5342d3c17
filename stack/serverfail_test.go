package stack_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// TestHubFailureStopsStack: when the hub fails under a running stack (a
// fatal error its nats-server logs), the stack stops as on Ctrl-C and Run
// returns the failure, so emostream up exits non-zero; every event
// acknowledged before is in the Kafka log on disk. Run had gone on as if
// the hub were healthy.
func TestHubFailureStopsStack(t *testing.T) {
	dir := t.TempDir()
	st, err := stack.Start(stack.Config{DataDir: dir, Partitions: 2, Logger: testenv.Logger(t),
		WebSocketListens: []string{"127.0.0.1:0"}, DemoMatch: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- st.Run(context.Background()) }()
	waitReady(t, st.HTTPURL())
	accepted := 0
	for i := range 5 {
		accepted += post(t, st.HTTPURL(), []map[string]string{{"user_id": fmt.Sprintf("u%d", i), "match_id": "m1", "emoji_type": "🔥"}})
	}
	st.Hub.Server().Fatalf("planted: %s", "the hub cannot go on")
	select {
	case err := <-done:
		if !errors.Is(err, fanout.ErrFailed) || !strings.Contains(err.Error(), "the hub cannot go on") {
			t.Fatalf("Run: %v, want the hub's failure", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the stack still runs a minute after its hub failed")
	}
	b, err := broker.Start(broker.Config{DataDir: dir, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var stored int64
	for _, o := range (testenv.KafkaTarget{Brokers: []string{b.Addr()}, Topic: wire.DefaultTopic, Partitions: 2}).EndOffsets(t) {
		stored += o
	}
	if stored != int64(accepted) {
		t.Errorf("the Kafka log holds %d events after the stop, %d were acknowledged", stored, accepted)
	}
}
