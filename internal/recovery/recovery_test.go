package recovery_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/internal/testenv"
)

func newLog() (*slog.Logger, *testenv.LogBuffer) {
	b := &testenv.LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, nil)), b
}

// Stages that share a registry ("emostream up") each register the counter.
func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		if err := recovery.Register(reg, "test_register"); err != nil {
			t.Fatal(err)
		}
	}
	if err := recovery.Register(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	recovery.Declare("test_declared")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"test_register": true, "test_declared": true}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == recovery.MetricName {
				delete(want, m.GetLabel()[0].GetValue())
			}
		}
	}
	if len(want) > 0 {
		t.Fatalf("%s: no zero series of %v", recovery.MetricName, want)
	}
}

func planted() { panic("planted") }

// A panic is logged once, with the stack down to where it happened, and
// counted; Do reports it.
func TestDoLogsOnceAndCounts(t *testing.T) {
	log, lines := newLog()
	before := recovery.Count("test_do")
	if recovery.Do(log, "test_do", planted) {
		t.Fatal("Do returned ok after a panic")
	}
	if !recovery.Do(log, "test_do", func() {}) {
		t.Fatal("Do returned not ok without a panic")
	}
	if got := recovery.Count("test_do") - before; got != 1 {
		t.Errorf("counted %v panics, want 1", got)
	}
	if strings.Count(lines.String(), "panic recovered") != 1 || strings.Count(lines.String(), "recovery_test.planted") != 1 {
		t.Errorf("log, want one line with the stack of planted:\n%s", lines.String())
	}
}

// A panic in a goroutine started by Go does not end the process.
func TestGo(t *testing.T) {
	log, _ := newLog()
	before := recovery.Count("test_go")
	done := make(chan struct{})
	recovery.Go(log, "test_go", func() { defer close(done); planted() })
	<-done
	testenv.WaitFor(t, 5*time.Second, "the panic counted", func() bool { return recovery.Count("test_go")-before == 1 })
}

// A NATS message handler that panics fails only that message: the
// subscription goes on with the next one.
func TestFuncOnNATSSubscription(t *testing.T) {
	n := testenv.StartNATS(t)
	nc, _ := n.Connect()
	log, lines := newLog()
	before := recovery.Count("test_nats")
	got := make(chan string, 10)
	_, err := nc.Subscribe("t.>", recovery.Func(log, "test_nats", func(m *nats.Msg) {
		if string(m.Data) == "boom" {
			planted()
		}
		got <- string(m.Data)
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "boom", "b"} {
		if err := nc.Publish("t.x", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"a", "b"} {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("got %q, want %q", s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q after the panic", want)
		}
	}
	if c := recovery.Count("test_nats") - before; c != 1 || strings.Count(lines.String(), "panic recovered") != 1 {
		t.Errorf("counted %v, logged %d, want 1 and 1", c, strings.Count(lines.String(), "panic recovered"))
	}
}

// An HTTP handler that panics before answering gets a 500 JSON error; one
// that panics in the middle of its answer has its connection cut; the
// server serves the next request.
func TestHTTP(t *testing.T) {
	log, lines := newLog()
	before := recovery.Count("test_http")
	srv := httptest.NewServer(recovery.HTTP(log, "test_http", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/early":
			planted()
		case "/late":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			planted()
		}
		_, _ = w.Write([]byte("ok"))
	})))
	defer srv.Close()
	get := func(path string) (int, string, error) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, string(b), err
	}
	if code, body, err := get("/early"); code != 500 || !strings.Contains(body, `"internal"`) || err != nil {
		t.Errorf("/early: %d %q %v, want 500 internal", code, body, err)
	}
	if _, body, err := get("/late"); err == nil {
		t.Errorf("/late: read %q whole, want the connection cut", body)
	}
	if code, body, err := get("/"); code != 200 || body != "ok" || err != nil {
		t.Errorf("/ after the panics: %d %q %v", code, body, err)
	}
	if c := recovery.Count("test_http") - before; c != 2 || strings.Count(lines.String(), "panic recovered") != 2 {
		t.Errorf("counted %v, logged %d, want 2 and 2:\n%s", c, strings.Count(lines.String(), "panic recovered"), lines.String())
	}
}
