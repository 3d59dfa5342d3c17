package stack_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// A record of window W that reaches the bridge after its partition closed
// W (as a broker pause at W's end or a producer retry makes it): the
// swarm that carries it counts it late and names W in its late_windows,
// and the timeline counts it in W by named window (the default: the window
// its 202 named), in the carrying window by arrival (the live swarms').
func TestLateRecordCountsInItsNamedWindow(t *testing.T) {
	st := startStackOn(t, testenv.KafkaTarget{}, stack.Config{Registry: registry.Config{AutoMatches: 10}})
	sw := watchMatch(t, st.WebSocketURLs()[0], "late")
	status, a := postReply(t, st.HTTPURL(), []map[string]string{{"user_id": "u", "match_id": "late", "emoji_type": "🔥", "event_id": "on-time"}})
	if status != http.StatusAccepted || len(a.Windows) != 1 {
		t.Fatalf("POST: %d %+v", status, a)
	}
	named := a.Windows[0]
	testenv.WaitFor(t, 30*time.Second, "the swarm of the 202's window", func() bool { return sw.get(named) != nil })
	// Every partition closed the window: the record below is late on any.
	conn, err := kafka.DialLeader(context.Background(), "tcp", st.KafkaBrokers()[0], wire.DefaultTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rec := wire.Record{EventID: "late", UserID: "u2", MatchID: "late", EmojiType: "👏", ReceivedAt: named + 100}
	if _, err := conn.WriteMessages(kafka.Message{Key: []byte("u2"), Value: rec.AppendJSON(nil)}); err != nil {
		t.Fatal(err)
	}
	var carrier *wire.Swarm
	testenv.WaitFor(t, 30*time.Second, "a swarm carrying the late record", func() bool {
		carrier = sw.with("👏")
		return carrier != nil
	})
	lw := map[int64]map[string]int64{named: {"👏": 1}}
	if carrier.WindowStart.UnixMilli() <= named || carrier.Late != 1 || fmt.Sprint(carrier.LateWindows) != fmt.Sprint(lw) {
		t.Fatalf("carried by %+v; want a later window, late 1, late_windows %v", carrier, lw)
	}
	arrived := carrier.WindowStart.UnixMilli()
	for _, tt := range []struct {
		by   string
		want map[int64]map[string]int64
	}{
		{"", map[int64]map[string]int64{named: {"🔥": 1, "👏": 1}}},
		{"named", map[int64]map[string]int64{named: {"🔥": 1, "👏": 1}}},
		{"arrival", map[int64]map[string]int64{named: {"🔥": 1}, arrived: {"👏": 1}}},
	} {
		url := st.HTTPURL() + "/v1/matches/late/timeline?step=2s&by=" + tt.by
		var got map[int64]map[string]int64
		if !testenv.Until(30*time.Second, func() bool {
			got = timelineSteps(t, url)
			return fmt.Sprint(got) == fmt.Sprint(tt.want)
		}) {
			t.Errorf("timeline by %q: %v, want %v", tt.by, got, tt.want)
		}
	}
}

// swarmsOf holds the swarms a WebSocket viewer of one match received.
type swarmsOf struct {
	mu       sync.Mutex
	byWindow map[int64]*wire.Swarm
}

func watchMatch(t *testing.T, wsURL, match string) *swarmsOf {
	t.Helper()
	nc, err := nats.Connect(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s := &swarmsOf{byWindow: map[int64]*wire.Swarm{}}
	if _, err := nc.Subscribe(wire.LiveSubject(match), func(m *nats.Msg) {
		if sw, err := wire.DecodeSwarm(m.Data); err == nil {
			s.mu.Lock()
			s.byWindow[sw.WindowStart.UnixMilli()] = sw
			s.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *swarmsOf) get(start int64) *wire.Swarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byWindow[start]
}

// with is the swarm that counts emoji, if any.
func (s *swarmsOf) with(emoji string) *wire.Swarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sw := range s.byWindow {
		if sw.Counts[emoji] > 0 {
			return sw
		}
	}
	return nil
}
