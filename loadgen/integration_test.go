package loadgen

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

// serveCeiling starts a Ceiling on a random loopback port.
func serveCeiling(t testing.TB) (*Ceiling, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := new(Ceiling)
	done := make(chan error, 1)
	go func() { done <- c.Serve(ln) }()
	t.Cleanup(func() {
		if err := c.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return c, "http://" + ln.Addr().String()
}

func TestAgainstCeiling(t *testing.T) {
	for _, batch := range []int{1, 10} {
		t.Run("batch "+strconv.Itoa(batch), func(t *testing.T) {
			c, target := serveCeiling(t)
			g, err := New(Config{Target: target, Events: 2000, Batch: batch, Connections: 8, Duration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			s, err := g.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			requests := int64(2000 / batch)
			want := Counts{Requests: requests, Events: 2000, Accepted: 2000, ByStatus: map[int]int64{202: requests}}
			if !reflect.DeepEqual(s.Counts, want) {
				t.Fatalf("counts %+v, want %+v", s.Counts, want)
			}
			if c.Requests() != requests || c.Events() != 2000 {
				t.Fatalf("ceiling saw %d requests, %d events; want %d, 2000", c.Requests(), c.Events(), requests)
			}
			if s.Latency.Count != uint64(requests) || s.Latency.P50 <= 0 || s.Latency.P99 < s.Latency.P50 {
				t.Fatalf("latency %+v", s.Latency)
			}
		})
	}
}

// With tokens the events carry no user_id; the ceiling still counts them.
func TestCeilingCountsEventsWithTokens(t *testing.T) {
	c, target := serveCeiling(t)
	g, err := New(Config{Target: target, Events: 100, Batch: 10, Connections: 2, Tokens: []string{"t"}, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Run(t.Context())
	if err != nil || s.Accepted != 100 || c.Events() != 100 {
		t.Fatalf("Run = %+v, %v, the ceiling counted %d; want 100 accepted", s.Counts, err, c.Events())
	}
}

// patternHandler checks every event it gets and answers request k with 202
// when k%4 is 0 or 1, 429 when it is 2 and 400 when it is 3.
type patternHandler struct {
	t   *testing.T
	mu  sync.Mutex
	n   int
	ids map[string]bool
}

func (h *patternHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var events []testEvent
	if err := json.NewDecoder(r.Body).Decode(&events); err != nil || r.Header.Get("Content-Type") != "application/json" {
		h.t.Errorf("bad request %s %s: %v", r.Method, r.Header.Get("Content-Type"), err)
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	h.mu.Lock()
	k := h.n
	h.n++
	for _, e := range events {
		if h.ids[e.EventID] || e.UserID == "" || e.MatchID != "match-0" && e.MatchID != "match-1" {
			h.t.Errorf("bad or repeated event %+v", e)
		}
		h.ids[e.EventID] = true
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch k % 4 {
	case 0, 1:
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"accepted":` + strconv.Itoa(len(events)) + `,"windows":[1]}`))
	case 2:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
	default:
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"code":"bad_event","message":"no","index":0}}`))
	}
}

func TestCountsByStatusOverHTTP(t *testing.T) {
	h := &patternHandler{t: t, ids: map[string]bool{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	g, err := New(Config{Target: srv.URL, Events: 2000, Batch: 5, Connections: 4, Matches: 2,
		EventIDs: true, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Requests: 400, Events: 2000, Accepted: 1000, Rejected: 1000,
		ByStatus: map[int]int64{202: 200, 429: 100, 400: 100}}
	if !reflect.DeepEqual(s.Counts, want) {
		t.Fatalf("counts %+v, want %+v", s.Counts, want)
	}
	for i := range int64(2000) {
		if !h.ids[g.EventID(i)] {
			t.Fatalf("event %s never arrived", g.EventID(i))
		}
	}
}

// A reply longer than MaxReplyBytes, with its length or chunked, is an
// error: a target cannot fill loadgen's memory with long replies.
func TestRefusesLongReplies(t *testing.T) {
	long := make([]byte, 16*MaxReplyBytes)
	for _, chunked := range []bool{false, true} {
		t.Run("chunked "+strconv.FormatBool(chunked), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(long)))
				}
				w.WriteHeader(http.StatusAccepted)
				w.Write(long)
			}))
			defer srv.Close()
			g, err := New(Config{Target: srv.URL, Events: 4, Connections: 1, Duration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			s, err := g.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if s.Requests != 4 || s.Errors != 4 || s.Accepted != 0 {
				t.Fatalf("counts %+v, want 4 requests, each an error", s.Counts)
			}
		})
	}
}

func BenchmarkAgainstCeiling(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run("batch "+strconv.Itoa(batch), func(b *testing.B) {
			_, target := serveCeiling(b)
			g, err := New(Config{Target: target, Events: int64(b.N) * int64(batch), Batch: batch,
				Connections: 32, Duration: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			s, err := g.Run(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(s.EventRate, "events/s")
			b.ReportMetric(float64(s.Latency.P99.Microseconds()), "p99-µs")
		})
	}
}
