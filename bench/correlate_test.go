package bench

import (
	"fmt"
	"maps"
	"testing"
	"time"
)

// Event-to-screen matches each request to the window its 202 named, per
// match, and weighs it by its events.
func TestEventToScreen(t *testing.T) {
	base := time.UnixMilli(1_000_000)
	r := NewRequests()
	r.Add("a", 0, base, 10)                              // screen at +2.5s
	r.Add("a", 0, base.Add(1500*time.Millisecond), 1)    // +1.0s
	r.Add("b", 0, base.Add(1000*time.Millisecond), 5)    // b's window arrives later: +3.0s
	r.Add("a", 2000, base.Add(2100*time.Millisecond), 3) // never received
	screen := map[windowKey]time.Time{
		{"a", 0}: base.Add(2500 * time.Millisecond),
		{"b", 0}: base.Add(4000 * time.Millisecond),
	}
	d, missing := r.EventToScreen(screen)
	if missing != 3 {
		t.Errorf("missing = %d, want 3", missing)
	}
	if got := d.Weight(); got != 16 {
		t.Errorf("weight = %d, want 16", got)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{1.0 / 16, time.Second}, {11.0 / 16, 2500 * time.Millisecond}, {12.0 / 16, 3 * time.Second}, {1, 3 * time.Second}} {
		if got := d.Quantile(tt.q); got != tt.want {
			t.Errorf("quantile %v = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got, want := r.Accepted(), map[string]int64{"a": 14, "b": 5}; !maps.Equal(got, want) {
		t.Errorf("accepted = %v, want %v", got, want)
	}
	if first, last, ok := r.Windows(); first != 0 || last != 2000 || !ok {
		t.Errorf("windows = %d, %d, %v; want 0, 2000, true", first, last, ok)
	}
}

func TestReplyWindows(t *testing.T) {
	tests := []struct {
		body string
		want []int64
	}{
		{`{"accepted":1,"windows":[1795410000000]}`, []int64{1795410000000}},
		{`{"accepted":3,"windows":[2000, 4000]}`, []int64{2000, 4000}},
		{`{"accepted":1}`, nil},
		{`{"accepted":1,"windows":[`, nil},
		{`{"windows":[]}`, nil},
	}
	for _, tt := range tests {
		if got := replyWindows([]byte(tt.body)); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("replyWindows(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestMatchCounts(t *testing.T) {
	tests := []struct {
		body string
		want map[string]int64
	}{
		{`{"user_id":"u-1","match_id":"match-0","emoji_type":"🔥"}`, map[string]int64{"match-0": 1}},
		{`[{"user_id":"u-1","match_id":"m-1","emoji_type":"🔥"},{"user_id":"u-2","match_id":"m-2","emoji_type":"👏"},{"user_id":"u-3","match_id":"m-1","emoji_type":"👏"}]`,
			map[string]int64{"m-1": 2, "m-2": 1}},
		{`{"user_id":"u-1"}`, map[string]int64{}},
		{`{"match_id":"unterminated`, map[string]int64{}},
	}
	for _, tt := range tests {
		if got := matchCounts([]byte(tt.body)); !maps.Equal(got, tt.want) {
			t.Errorf("matchCounts(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}
