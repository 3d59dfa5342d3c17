package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeDoer answers every request after a fixed (fake-clock) latency with
// what answer returns for the request's number, and records when each
// request arrived and how many events it carried.
type fakeDoer struct {
	latency time.Duration
	answer  func(i int, events int) (status int, body string, err error)

	mu     sync.Mutex
	at     []time.Time
	events []int
}

func (f *fakeDoer) DoTimeout(req *fasthttp.Request, resp *fasthttp.Response, _ time.Duration) error {
	n := bytes.Count(req.Body(), []byte(`"user_id"`))
	f.mu.Lock()
	i := len(f.at)
	f.at = append(f.at, time.Now())
	f.events = append(f.events, n)
	f.mu.Unlock()
	time.Sleep(f.latency)
	status, body, err := 202, `{"accepted":`+strconv.Itoa(n)+`}`, error(nil)
	if f.answer != nil {
		status, body, err = f.answer(i, n)
	}
	if err == nil {
		resp.SetStatusCode(status)
		resp.SetBodyString(body)
	}
	return err
}

func run(t *testing.T, cfg Config) Summary {
	t.Helper()
	cfg.Target = "http://127.0.0.1:1"
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s, err := g.Run(t.Context())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return s
}

func TestRatePacesRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDoer{latency: time.Millisecond}
		start := time.Now()
		s := run(t, Config{Client: d, Rate: 1000, Batch: 10, Duration: time.Second, Connections: 4})
		if s.Requests != 100 || s.Events != 1000 || s.Accepted != 1000 {
			t.Fatalf("requests %d events %d accepted %d, want 100 1000 1000", s.Requests, s.Events, s.Accepted)
		}
		slices.SortFunc(d.at, time.Time.Compare)
		for k, at := range d.at {
			if want := time.Duration(k) * 10 * time.Millisecond; at.Sub(start) != want {
				t.Fatalf("request %d sent at %v, want %v", k, at.Sub(start), want)
			}
		}
	})
}

// A rate so low that the due time of a later request does not fit a
// time.Duration still ends the run at its Duration: only the request due
// at the start is sent.
func TestTinyRateKeepsTheDuration(t *testing.T) {
	for _, rate := range []float64{1e-9, 1e-300} {
		synctest.Test(t, func(t *testing.T) {
			d := &fakeDoer{latency: time.Millisecond}
			g, err := New(Config{Target: "http://127.0.0.1:1", Client: d, Rate: rate, Batch: 1000, Duration: time.Second, Connections: 8})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			s, err := g.Run(ctx)
			if err != nil || s.Requests != 1 || s.Elapsed > time.Second {
				t.Fatalf("rate %g: Run = %d requests in %v, %v; want 1 within the second", rate, s.Requests, s.Elapsed, err)
			}
		})
	}
}

func TestStopsAfterEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDoer{latency: time.Millisecond}
		s := run(t, Config{Client: d, Events: 1005, Batch: 10, Connections: 3})
		if s.Requests != 101 || s.Events != 1005 || s.Accepted != 1005 {
			t.Fatalf("requests %d events %d accepted %d, want 101 1005 1005", s.Requests, s.Events, s.Accepted)
		}
		if got := slices.Min(d.events); got != 5 {
			t.Errorf("smallest batch %d, want the last one of 5", got)
		}
	})
}

func TestStopsAfterDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDoer{latency: time.Millisecond}
		s := run(t, Config{Client: d, Duration: 100 * time.Millisecond, Connections: 4})
		if s.Requests != 400 || s.Elapsed != 100*time.Millisecond {
			t.Fatalf("requests %d in %v, want 400 in 100ms", s.Requests, s.Elapsed)
		}
	})
}

func TestStopsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDoer{latency: time.Millisecond}
		g, err := New(Config{Target: "http://127.0.0.1:1", Client: d, Duration: time.Hour, Connections: 4})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		s, err := g.Run(ctx)
		if err != nil || s.Requests < 200 || s.Requests > 204 || s.Elapsed > 51*time.Millisecond {
			t.Fatalf("Run = %d requests in %v, %v; want about 200 in 50ms", s.Requests, s.Elapsed, err)
		}
		if _, err := g.Run(t.Context()); !errors.Is(err, ErrRunTwice) {
			t.Fatalf("second Run = %v, want ErrRunTwice", err)
		}
	})
}

func TestSummaryMath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDoer{latency: 2 * time.Millisecond}
		s := run(t, Config{Client: d, Events: 400, Connections: 4})
		if s.Elapsed != 200*time.Millisecond {
			t.Fatalf("elapsed %v, want 200ms", s.Elapsed)
		}
		if s.RequestRate != 2000 || s.EventRate != 2000 || s.AcceptedRate != 2000 {
			t.Errorf("rates %v %v %v, want 2000/s each", s.RequestRate, s.EventRate, s.AcceptedRate)
		}
		l := s.Latency
		if l.Count != 400 || l.P50 != 2*time.Millisecond || l.P99 != 2*time.Millisecond || l.Max != 2*time.Millisecond {
			t.Errorf("latency %+v, want 400 samples of 2ms", l)
		}
		if len(s.ByStatus) != 1 || s.ByStatus[202] != 400 {
			t.Errorf("by status %v, want 202:400", s.ByStatus)
		}
	})
}

func TestCountsByOutcome(t *testing.T) {
	errBoom := errors.New("boom")
	d := &fakeDoer{answer: func(i, n int) (int, string, error) {
		switch i % 6 {
		case 0, 1:
			return 202, `{"accepted": ` + strconv.Itoa(n) + `, "windows": []}`, nil
		case 2:
			return 429, `{"error":{"code":"rate_limited"}}`, nil
		case 3:
			return 400, `{"error":{"code":"bad_event","index":1}}`, nil
		case 4:
			return 0, "", fasthttp.ErrTimeout
		}
		return 0, "", errBoom
	}}
	var mu sync.Mutex
	var results []Result
	s := run(t, Config{Client: d, Events: 600, Batch: 2, Connections: 1, OnResult: func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, r)
	}})
	want := Counts{Requests: 300, Events: 600, Accepted: 200, Rejected: 200, Errors: 50, Timeouts: 50,
		ByStatus: map[int]int64{202: 100, 429: 50, 400: 50}}
	if !reflect.DeepEqual(s.Counts, want) {
		t.Fatalf("counts %+v, want %+v", s.Counts, want)
	}
	if len(results) != 300 || results[5].Err != errBoom || results[1].Accepted != 2 || results[1].FirstEvent != 2 {
		t.Fatalf("results: %d, 6th %+v, 2nd %+v", len(results), results[5], results[1])
	}
}

func TestAcceptedOf(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   int
	}{
		{202, `{"accepted":3,"windows":[1]}`, 3},
		{202, `{"accepted": 0}`, 0},
		{202, `{}`, 5},
		{202, `{"accepted":"x"}`, 5},
		{202, `{"accepted":7}`, 5},
		{202, `{"accepted":99999999999999999999999}`, 5},
		{202, `{"accepted":9223372036854775808}`, 5},
		{429, `{"accepted":3}`, 0},
	}
	for _, tt := range tests {
		if got := acceptedOf(tt.status, []byte(tt.body), 5); got != tt.want {
			t.Errorf("acceptedOf(%d, %s, 5) = %d, want %d", tt.status, tt.body, got, tt.want)
		}
	}
}

func TestProgressReportsIntervals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDoer{latency: 500 * time.Microsecond}
		var got []Progress
		run(t, Config{Client: d, Rate: 1000, Duration: time.Second, Connections: 2,
			ProgressInterval: 100 * time.Millisecond, Progress: func(p Progress) { got = append(got, p) }})
		if len(got) < 9 {
			t.Fatalf("%d progress reports, want at least 9", len(got))
		}
		for i, p := range got[:9] {
			if p.Elapsed != time.Duration(i+1)*100*time.Millisecond || p.Events != int64(i+1)*100 {
				t.Errorf("report %d: %v elapsed, %d events", i, p.Elapsed, p.Events)
			}
			if want := float64(i+1) / 10; p.Done < want-1e-9 || p.Done > want+1e-9 {
				t.Errorf("report %d: done %v, want %v", i, p.Done, want)
			}
			if p.EventRate != 1000 || p.P50 != 500*time.Microsecond || p.P99 != 500*time.Microsecond {
				t.Errorf("report %d: rate %v p50 %v p99 %v, want 1000/s and 500µs", i, p.EventRate, p.P50, p.P99)
			}
		}
	})
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"batch max", Config{Batch: MaxBatch}, true},
		{"batch too big", Config{Batch: MaxBatch + 1}, false},
		{"negative rate", Config{Rate: -1}, false},
		{"too long", Config{Duration: MaxDuration + time.Second}, false},
		{"negative events", Config{Events: -5}, false},
		{"negative users", Config{Users: -1}, false},
		{"too many connections", Config{Connections: MaxConnections + 1}, false},
		{"bad mix", Config{Mix: Mix{{"🔥", 0}}}, false},
		{"bad target", Config{Target: "ftp://127.0.0.1"}, false},
		{"no host", Config{Target: "http://"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("New = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) && !errors.Is(err, ErrBadMix) {
				t.Fatalf("New = %v, want ErrConfig or ErrBadMix", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Duration != DefaultDuration || c.Batch != 1 || c.Connections != DefaultConnections || len(c.Mix) != 12 {
		t.Errorf("defaults %+v", c)
	}
	if c := (Config{Events: 10}).withDefaults(); c.Duration != MaxDuration {
		t.Errorf("with events only, duration %v, want the hard maximum %v", c.Duration, MaxDuration)
	}
}

// bodyDoer answers 202 and keeps, per request, the events of each match as
// the body it received says.
type bodyDoer struct {
	mu     sync.Mutex
	counts []map[string]int
}

func (d *bodyDoer) DoTimeout(req *fasthttp.Request, resp *fasthttp.Response, _ time.Duration) error {
	var events []struct {
		MatchID string `json:"match_id"`
	}
	if err := json.Unmarshal(req.Body(), &events); err != nil {
		return err
	}
	c := map[string]int{}
	for _, e := range events {
		c[e.MatchID]++
	}
	d.mu.Lock()
	d.counts = append(d.counts, c)
	d.mu.Unlock()
	resp.SetStatusCode(202)
	return nil
}

// Result.Matches is the body's events per match, in increasing order.
func TestResultMatchesAreTheBodys(t *testing.T) {
	d := &bodyDoer{}
	var got []map[string]int
	run(t, Config{Client: d, Events: 2000, Batch: 50, Matches: 7, Connections: 1, OnResult: func(r Result) {
		c := map[string]int{}
		for i, m := range r.Matches {
			if i > 0 && m.Match <= r.Matches[i-1].Match {
				t.Errorf("matches out of order: %v", r.Matches)
			}
			c[MatchPrefix+strconv.FormatUint(m.Match, 10)] = m.Events
		}
		got = append(got, c)
	}})
	if len(got) != 40 || !reflect.DeepEqual(got, d.counts) {
		t.Fatalf("Result.Matches of %d requests differ from the bodies' (%d):\n%v\n%v", len(got), len(d.counts), got, d.counts)
	}
}
