package stack_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/stack"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// startStackOn runs the pipeline on the target: the stack's own embedded
// broker, or the real cluster's brokers with the test's topic and group.
func startStackOn(t *testing.T, k testenv.KafkaTarget, window time.Duration) *stack.Stack {
	t.Helper()
	cfg := stack.Config{Window: window, Registry: registry.Config{AutoMatches: 1000}}
	if k.Real != nil {
		k.WarmUp(t) // the bridge counts these records as bad ones
		cfg.KafkaBrokers = k.Brokers
		cfg.Ingest.Topic, cfg.Bridge.Topic, cfg.Bridge.Group, cfg.Processor.Topic = k.Topic, k.Topic, k.Group, k.Topic
	}
	return startStackWith(t, cfg)
}

// onEachKafka runs f on the stack's embedded broker and on the real
// cluster (a topic of 4 partitions, as startStackWith gives the embedded
// broker).
func onEachKafka(t *testing.T, f func(t *testing.T, k testenv.KafkaTarget)) {
	t.Run("embedded", func(t *testing.T) { f(t, testenv.KafkaTarget{Name: "embedded", Partitions: 4}) })
	t.Run("real-3-nodes", func(t *testing.T) { f(t, testenv.OnRealKafka(t, realKafka, 4)) })
}

// The whole pipeline, HTTP to WebSocket viewers of two leaves, counts
// exactly on both brokers: per match and emoji, each window once.
func TestOnEachKafkaPipelineCountsExactly(t *testing.T) {
	onEachKafka(t, func(t *testing.T, k testenv.KafkaTarget) {
		st := startStackOn(t, k, 500*time.Millisecond)
		viewers := []*viewer{watch(t, st.WebSocketURLs()[0]), watch(t, st.WebSocketURLs()[1])}
		want := wire.Counts{}
		matches, emojis := []string{"final-2026", "semi-1", "semi-2"}, []string{"🔥", "👏", "❤️", "⚽"}
		retries := 0
		for round := range 20 {
			var evs []map[string]string
			for i := range 50 {
				m, e := matches[(round+i)%3], emojis[(round*7+i)%4]
				evs = append(evs, map[string]string{"user_id": fmt.Sprintf("u-%d-%d", round, i), "match_id": m,
					"emoji_type": e, "event_id": fmt.Sprintf("ev-%d-%d", round, i)})
				want.Add(m, e, 1)
			}
			// A careful client retries a 503 with the same event_ids: a
			// produce that timed out may still have been stored, and the
			// bridge counts each event_id once.
			var status, got int
			testenv.WaitFor(t, time.Minute, "a 202", func() bool {
				status, _, got = postStatus(t, st.HTTPURL(), evs)
				if status == http.StatusServiceUnavailable {
					retries++
				}
				return status != http.StatusServiceUnavailable
			})
			if status != http.StatusAccepted || got != len(evs) {
				t.Fatalf("status %d, accepted %d of %d", status, got, len(evs))
			}
		}
		if retries > 0 {
			t.Logf("%d requests retried after a 503", retries)
		}
		for i, v := range viewers {
			testenv.WaitFor(t, time.Minute, fmt.Sprintf("viewer %d to count %d events", i, want.Total()), func() bool { return v.total() >= want.Total() })
			v.mu.Lock()
			if fmt.Sprint(v.counts) != fmt.Sprint(want) {
				t.Errorf("viewer %d counted %v, want %v", i, v.counts, want)
			}
			for id, n := range v.windows {
				if n != 1 {
					t.Errorf("viewer %d got window %s %d times", i, id, n)
				}
			}
			v.mu.Unlock()
		}
	})
}
