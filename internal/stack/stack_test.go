package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/stack"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// startStack runs the whole pipeline on random loopback ports with a short
// window, and stops it when the test ends.
func startStack(t *testing.T, window time.Duration) *stack.Stack {
	t.Helper()
	return startStackWith(t, stack.Config{Window: window, Registry: registry.Config{AutoMatches: 1000}})
}

// startStackWith runs the pipeline of cfg, filled in with a temp data dir,
// 4 partitions, two leaves and the test's logger.
func startStackWith(t *testing.T, cfg stack.Config) *stack.Stack {
	t.Helper()
	cfg.DataDir, cfg.Partitions, cfg.Logger = t.TempDir(), 4, testenv.Logger(t)
	cfg.WebSocketListens = []string{"127.0.0.1:0", "127.0.0.1:0"}
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
	testenv.WaitFor(t, 20*time.Second, "ingest ready", func() bool {
		res, err := http.Get(st.HTTPURL() + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return st
}

// viewer collects every swarm a WebSocket viewer of a leaf receives.
type viewer struct {
	mu      sync.Mutex
	counts  wire.Counts
	windows map[string]int // match/window → deliveries
}

func watch(t *testing.T, wsURL string) *viewer {
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
		for e, n := range s.Counts {
			v.counts.Add(s.MatchID, e, n)
		}
		v.windows[s.MsgID()]++
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return v
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
	body, _ := json.Marshal(evs)
	resp, err := http.Post(base+"/v1/emojis", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Accepted int
		Error    struct{ Code string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST: status %d, %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out.Error.Code, out.Accepted
}

// Events of several matches and emojis posted over HTTP reach WebSocket
// viewers of two leaves as swarms that sum to exactly what was accepted, per
// match and emoji, each window once.
func TestPipelineCountsExactly(t *testing.T) {
	st := startStack(t, 500*time.Millisecond)
	viewers := []*viewer{watch(t, st.WebSocketURLs()[0]), watch(t, st.WebSocketURLs()[1])}
	want := wire.Counts{}
	matches, emojis := []string{"final-2026", "semi-1", "semi-2"}, []string{"🔥", "👏", "❤️", "⚽"}
	for round := 0; round < 20; round++ {
		var evs []map[string]string
		for i := 0; i < 50; i++ {
			m, e := matches[(round+i)%3], emojis[(round*7+i)%4]
			evs = append(evs, map[string]string{"user_id": fmt.Sprintf("u-%d-%d", round, i), "match_id": m, "emoji_type": e})
			want.Add(m, e, 1)
		}
		if got := post(t, st.HTTPURL(), evs); got != len(evs) {
			t.Fatalf("accepted %d of %d", got, len(evs))
		}
	}
	for i, v := range viewers {
		testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("viewer %d to count %d events", i, want.Total()), func() bool { return v.total() >= want.Total() })
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
}
