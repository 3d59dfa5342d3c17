package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// onEachKafka runs f on the stack's embedded broker and on the real
// cluster (a topic of 4 partitions, as startStackWith gives the embedded
// broker).
func onEachKafka(t *testing.T, f func(t *testing.T, k testenv.KafkaTarget)) {
	t.Run("embedded", func(t *testing.T) { f(t, testenv.KafkaTarget{Name: "embedded", Partitions: 4}) })
	t.Run("real-3-nodes", func(t *testing.T) { f(t, testenv.OnRealKafka(t, realKafka, 4)) })
}

// startStack runs the whole pipeline on random loopback ports with a short
// window, and stops it when the test ends.
func startStack(t *testing.T, window time.Duration) *stack.Stack {
	t.Helper()
	return startStackOn(t, testenv.KafkaTarget{}, stack.Config{Window: window, Registry: registry.Config{AutoMatches: 1000}})
}

// startStackOn is startStackWith on the target: the stack's own embedded
// broker (no Real), or the real cluster's brokers with the test's topic
// and group.
func startStackOn(t testing.TB, k testenv.KafkaTarget, cfg stack.Config) *stack.Stack {
	t.Helper()
	if k.Real != nil {
		k.WarmUp(t) // the bridge counts these records as bad ones
		cfg.KafkaBrokers = k.Brokers
		cfg.Ingest.Topic, cfg.Bridge.Topic, cfg.Bridge.Group, cfg.Processor.Topic = k.Topic, k.Topic, k.Group, k.Topic
	}
	return startStackWith(t, cfg)
}

// startStackWith runs the pipeline of cfg, filled in with a temp data dir,
// 4 partitions, two leaves (unless cfg lists its own) and the test's
// logger, until the test ends.
func startStackWith(t testing.TB, cfg stack.Config) *stack.Stack {
	t.Helper()
	cfg.DataDir, cfg.Partitions, cfg.Logger = t.TempDir(), 4, testenv.Logger(t)
	if cfg.WebSocketListens == nil {
		cfg.WebSocketListens = []string{"127.0.0.1:0", "127.0.0.1:0"}
	}
	return runStack(t, cfg)
}

// runStack starts and runs the stack of cfg until the test ends, and
// waits until ingest is ready.
func runStack(t testing.TB, cfg stack.Config) *stack.Stack {
	t.Helper()
	st, err := stack.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stack: %v", err)
		}
	})
	waitReady(t, st.HTTPURL())
	return st
}

// viewer collects every swarm a WebSocket viewer of a leaf receives.
type viewer struct {
	mu      sync.Mutex
	counts  wire.Counts
	windows map[string]int // match/window → deliveries
}

func watch(t testing.TB, wsURL string) *viewer {
	t.Helper()
	nc, err := nats.Connect(wsURL)
	if err != nil {
		t.Fatalf("viewer connect %s: %v", wsURL, err)
	}
	t.Cleanup(nc.Close)
	v := &viewer{counts: wire.Counts{}, windows: map[string]int{}}
	_, err = nc.Subscribe(wire.LiveSubjects, func(m *nats.Msg) {
		s, err := wire.DecodeSwarm(m.Data)
		if err != nil {
			t.Errorf("viewer got a bad swarm: %v", err)
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		v.add(s)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return v
}

// add records s: its counts and one delivery of its window. v.mu must be
// held.
func (v *viewer) add(s *wire.Swarm) {
	for e, n := range s.Counts {
		v.counts.Add(s.MatchID, e, n)
	}
	v.windows[s.MsgID()]++
}

func (v *viewer) total() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.counts.Total()
}

// post posts evs, which must all be accepted, and returns how many were.
func post(t *testing.T, base string, evs []map[string]string) int {
	t.Helper()
	status, code, n := postStatus(t, base, evs)
	if status != http.StatusAccepted {
		t.Fatalf("POST: status %d %s", status, code)
	}
	return n
}

// postStatus posts evs and returns the status, the error code of a refusal
// and the accepted count of a 202.
func postStatus(t *testing.T, base string, evs []map[string]string) (status int, code string, accepted int) {
	t.Helper()
	status, out := postReply(t, base, evs)
	return status, out.Error.Code, out.Accepted
}

// postAnswer is POST /v1/emojis's answer.
type postAnswer struct {
	Accepted int
	Windows  []int64 // the window start (Unix ms) the events are counted in
	Error    struct{ Code string }
}

// postReply posts evs (whose values may be numbers too) and returns the
// status and the answer.
func postReply[V any](t *testing.T, base string, evs []map[string]V) (int, postAnswer) {
	t.Helper()
	body, _ := json.Marshal(evs)
	resp, err := http.Post(base+"/v1/emojis", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out postAnswer
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST: status %d, %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// Events of several matches and emojis posted over HTTP reach WebSocket
// viewers of two leaves as swarms that sum to exactly what was accepted, per
// match and emoji, each window once, on both brokers.
func TestOnEachKafkaPipelineCountsExactly(t *testing.T) {
	onEachKafka(t, func(t *testing.T, k testenv.KafkaTarget) {
		st := startStackOn(t, k, stack.Config{Window: 500 * time.Millisecond, Registry: registry.Config{AutoMatches: 1000}})
		viewers := []*viewer{watch(t, st.WebSocketURLs()[0]), watch(t, st.WebSocketURLs()[1])}
		want := wire.Counts{}
		matches, emojis := []string{"final-2026", "semi-1", "semi-2"}, []string{"🔥", "👏", "❤️", "⚽"}
		retries, patience := 0, 30*time.Second
		if k.Real != nil {
			patience = time.Minute
		}
		for round := range 20 {
			var evs []map[string]string
			for i := range 50 {
				m, e := matches[(round+i)%3], emojis[(round*7+i)%4]
				evs = append(evs, map[string]string{"user_id": fmt.Sprintf("u-%d-%d", round, i), "match_id": m,
					"emoji_type": e, "event_id": fmt.Sprintf("ev-%d-%d", round, i)})
				want.Add(m, e, 1)
			}
			if k.Real == nil {
				if got := post(t, st.HTTPURL(), evs); got != len(evs) {
					t.Fatalf("accepted %d of %d", got, len(evs))
				}
				continue
			}
			// On the real cluster a careful client retries a 503 with the
			// same event_ids: a produce that timed out may still have been
			// stored, and the bridge counts each event_id once.
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
		if st.Broker != nil { // ingest, the bridge and the processor connect in process, nobody over TCP
			if mem, tcp := st.Broker.Connections(); mem < 3 || tcp != 0 {
				t.Errorf("the embedded broker accepted %d connections in process and %d over TCP, want every stage's in process", mem, tcp)
			}
		}
		for i, v := range viewers {
			testenv.WaitFor(t, patience, fmt.Sprintf("viewer %d to count %d events", i, want.Total()), func() bool { return v.total() >= want.Total() })
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

// TestIngestTopicIsTheStacksTopic: a stack whose ingest writes another
// topic (up --topic) creates that topic on its embedded broker and has the
// bridge and the processor read it, so the events reach the viewers. Before,
// the bridge and the processor kept reading wire.DefaultTopic.
func TestIngestTopicIsTheStacksTopic(t *testing.T) {
	cfg := stack.Config{Window: 300 * time.Millisecond, Registry: registry.Config{AutoMatches: 10}}
	cfg.Ingest.Topic = "emostream.other"
	st := startStackWith(t, cfg)
	if got := st.Topic(); got != "emostream.other" {
		t.Errorf("Topic() = %q, want emostream.other", got)
	}
	v := watch(t, st.WebSocketURLs()[0])
	var evs []map[string]string
	for i := range 3 {
		evs = append(evs, map[string]string{"user_id": fmt.Sprintf("u-%d", i), "match_id": "m-topic", "emoji_type": "🔥"})
	}
	if got := post(t, st.HTTPURL(), evs); got != len(evs) {
		t.Fatalf("accepted %d of %d", got, len(evs))
	}
	testenv.WaitFor(t, 20*time.Second, "the viewer to count 3 events", func() bool { return v.total() >= 3 })
}
