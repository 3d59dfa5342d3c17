package loadgen

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
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
	body, matches := e.appendBody(nil, nil, r, 7, 1)
	if err := json.Unmarshal(body, &one); err != nil {
		t.Fatalf("single event is not a JSON object: %v", err)
	}
	if one.EventID != "run1-7" {
		t.Errorf("event_id = %q, want run1-7", one.EventID)
	}
	if len(matches) != 1 || MatchPrefix+strconv.FormatUint(matches[0], 10) != one.MatchID {
		t.Errorf("matches %v, want the number of %q", matches, one.MatchID)
	}
	var batch []testEvent
	body, matches = e.appendBody(nil, matches[:0], r, 100, 50)
	if err := json.Unmarshal(body, &batch); err != nil || len(batch) != 50 || len(matches) != 50 {
		t.Fatalf("batch: %d events, %d matches, %v; want 50", len(batch), len(matches), err)
	}
	for i, ev := range batch {
		if want := MatchPrefix + strconv.FormatUint(matches[i], 10); ev.MatchID != want {
			t.Errorf("event %d: match_id %q, but appendBody reported %q", i, ev.MatchID, want)
		}
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
	body, _ := e.appendBody(nil, nil, rand.New(rand.NewPCG(1, 2)), 0, 1)
	if strings.Contains(string(body), "event_id") {
		t.Fatalf("body %s has an event_id", body)
	}
}

func BenchmarkAppendBody(b *testing.B) {
	e := newEncoder(Config{EventIDs: true}.withDefaults(), "run1")
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	var matches []uint64
	for i := 0; b.Loop(); i++ {
		buf, matches = e.appendBody(buf[:0], matches[:0], r, int64(i)*100, 100)
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
		body, _ := e.appendBody(nil, nil, r, 10, n)
		events, err := d.Decode(nil, body)
		if err != nil || len(events) != n {
			t.Fatalf("batch of %d: decoded %d events, %v", n, len(events), err)
		}
		if events[n-1].EventID != "run1-"+strconv.Itoa(10+n-1) {
			t.Fatalf("batch of %d: last event_id %q", n, events[n-1].EventID)
		}
	}
}

func TestTally(t *testing.T) {
	got := tally(nil, []uint64{3, 0, 3, 9, 0, 3})
	want := []MatchEvents{{0, 2}, {3, 3}, {9, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("tally = %v, want %v", got, want)
	}
	if got := tally(got[:0], nil); len(got) != 0 {
		t.Errorf("tally of nothing = %v", got)
	}
}
