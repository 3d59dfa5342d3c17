package bench

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/emostream/emostream/loadgen"
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

func TestLastReplyWindow(t *testing.T) {
	tests := []struct {
		body string
		want int64
		ok   bool
	}{
		{`{"accepted":1,"windows":[1795410000000]}`, 1795410000000, true},
		{`{"accepted":3,"windows":[2000, 4000]}`, 4000, true},
		{`{"accepted":1}`, 0, false},
		{`{"accepted":1,"windows":[`, 0, false},
		{`{"windows":[]}`, 0, false},
		{`{"windows":[2000,x]}`, 0, false},
	}
	for _, tt := range tests {
		if got, ok := lastReplyWindow([]byte(tt.body)); got != tt.want || ok != tt.ok {
			t.Errorf("lastReplyWindow(%s) = %d, %v; want %d, %v", tt.body, got, ok, tt.want, tt.ok)
		}
	}
}

// record charges a 202's events, per match as loadgen reports them, to the
// last window its reply names, at its answer's time; anything else is not
// recorded.
func TestRecord(t *testing.T) {
	base := time.UnixMilli(1_000_000)
	r := NewRequests()
	ok := loadgen.Result{Status: 202, Sent: base, Latency: time.Millisecond,
		Body:    []byte(`{"accepted":5,"windows":[2000,4000]}`),
		Matches: []loadgen.MatchEvents{{Match: 0, Events: 2}, {Match: 7, Events: 3}}}
	r.record(ok)
	r.record(loadgen.Result{Status: 400, Body: ok.Body, Matches: ok.Matches})
	r.record(loadgen.Result{Status: 202, Body: []byte(`{"accepted":5}`), Matches: ok.Matches})
	r.record(loadgen.Result{Err: errors.New("timeout"), Matches: ok.Matches})
	if got, want := r.Accepted(), map[string]int64{"match-0": 2, "match-7": 3}; !maps.Equal(got, want) {
		t.Errorf("accepted = %v, want %v", got, want)
	}
	d, missing := r.EventToScreen(map[windowKey]time.Time{{"match-0", 4000}: base.Add(time.Second)})
	if missing != 3 || d.Weight() != 2 || d.Quantile(1) != time.Second-time.Millisecond {
		t.Errorf("event-to-screen: missing %d, weight %d, max %v; want 3, 2, 999ms", missing, d.Weight(), d.Quantile(1))
	}
}
