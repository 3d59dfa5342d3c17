package loadgen

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

type testEvent struct {
	UserID    string `json:"user_id"`
	MatchID   string `json:"match_id"`
	EmojiType string `json:"emoji_type"`
	EventID   string `json:"event_id"`
}

func TestAppendBody(t *testing.T) {
	cfg := Config{Users: 5, Matches: 3, Mix: Mix{{"🔥", 1}, {`q"\` + "\n", 1}}, EventIDs: true}.withDefaults()
	e := newEncoder(cfg, "run1")
	r := rand.New(rand.NewPCG(1, 2))

	var one testEvent
	if err := json.Unmarshal(e.appendBody(nil, r, 7, 1), &one); err != nil {
		t.Fatalf("single event is not a JSON object: %v", err)
	}
	if one.EventID != "run1-7" {
		t.Errorf("event_id = %q, want run1-7", one.EventID)
	}
	var batch []testEvent
	if err := json.Unmarshal(e.appendBody(nil, r, 100, 50), &batch); err != nil || len(batch) != 50 {
		t.Fatalf("batch: %d events, %v; want 50", len(batch), err)
	}
	for i, ev := range batch {
		if want := "run1-" + strconv.Itoa(100+i); ev.EventID != want {
			t.Errorf("event %d: event_id %q, want %q", i, ev.EventID, want)
		}
		if !strings.HasPrefix(ev.UserID, UserPrefix) || !strings.HasPrefix(ev.MatchID, MatchPrefix) {
			t.Errorf("event %d: ids %q %q", i, ev.UserID, ev.MatchID)
		}
		if ev.EmojiType != "🔥" && ev.EmojiType != cfg.Mix[1].Emoji {
			t.Errorf("event %d: emoji %q not in the mix", i, ev.EmojiType)
		}
	}
}

func TestAppendBodyWithoutEventIDs(t *testing.T) {
	e := newEncoder(Config{}.withDefaults(), "run1")
	body := e.appendBody(nil, rand.New(rand.NewPCG(1, 2)), 0, 1)
	if strings.Contains(string(body), "event_id") {
		t.Fatalf("body %s has an event_id", body)
	}
}

func BenchmarkAppendBody(b *testing.B) {
	e := newEncoder(Config{EventIDs: true}.withDefaults(), "run1")
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for i := 0; b.Loop(); i++ {
		buf = e.appendBody(buf[:0], r, int64(i)*100, 100)
	}
	b.SetBytes(int64(len(buf)))
}

// TestBodiesPassIngestDecoder checks the bodies against the decoder ingest
// uses, with the default emoji set.
func TestBodiesPassIngestDecoder(t *testing.T) {
	e := newEncoder(Config{EventIDs: true, Matches: 50}.withDefaults(), "run1")
	r := rand.New(rand.NewPCG(3, 4))
	d := wire.NewDecoder(nil)
	for _, n := range []int{1, 2, MaxBatch} {
		events, err := d.Decode(nil, e.appendBody(nil, r, 10, n))
		if err != nil || len(events) != n {
			t.Fatalf("batch of %d: decoded %d events, %v", n, len(events), err)
		}
		if events[n-1].EventID != "run1-"+strconv.Itoa(10+n-1) {
			t.Fatalf("batch of %d: last event_id %q", n, events[n-1].EventID)
		}
	}
}
