package edge

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// A panic planted in each kind of edge callback fails only its input: the
// viewer whose message panicked is closed, the upgrade that panicked gets
// 500 (its connection slot freed), the live swarm that panicked is not
// delivered; another viewer keeps its connection and receives the next
// swarms, and new viewers connect. Each panic is logged once and counted.
func TestPanicFailsOnlyItsViewer(t *testing.T) {
	wd := startWorld(t)
	logs := &testenv.LogBuffer{}
	boomWindow := swarmBody("m1", 2)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), Logger: slog.New(slog.NewTextHandler(logs, nil))}, func(e *Edge) {
		e.hook = func(where string, data []byte) {
			if bytes.Contains(data, []byte("boom")) || where == panicUpstream && bytes.Equal(data, boomWindow) {
				panic("planted in " + where)
			}
		}
	})
	before := map[string]float64{}
	for _, c := range []string{panicHTTP, panicViewer, panicUpstream} {
		before[c] = recovery.Count(c)
	}
	good := connect(t, e.URL())
	live := subscribe(t, good, wire.LiveSubject("m1"))

	closed := make(chan struct{})
	bad := connect(t, e.URL(), nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err := bad.Publish("boom", nil); err != nil {
		t.Fatal(err)
	}
	_ = bad.Flush()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the viewer whose message panicked is still connected")
	}

	res, err := http.Get("http://" + e.cfg.Listener.Addr().String() + "/?boom")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("upgrade that panicked: %d, want 500", res.StatusCode)
	}

	for w := 1; w <= 3; w++ {
		wd.publish(t, "m1", w)
	}
	testenv.WaitFor(t, 10*time.Second, "windows 1 and 3 (2 panicked)", func() bool { return live.len() == 2 })
	if got := live.windows(t); got[0] != 1 || got[1] != 3 {
		t.Errorf("windows %v, want [1 3]", got)
	}
	again := connect(t, e.URL())
	if _, err := again.Request(wire.LatestSwarmRequest("m1"), nil, 5*time.Second); err != nil {
		t.Errorf("a new viewer after the panics: %v", err)
	}
	testenv.WaitFor(t, 10*time.Second, "the failed connections counted out", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.total == 2 // good and again
	})
	for _, c := range []string{panicHTTP, panicViewer, panicUpstream} {
		if got := recovery.Count(c) - before[c]; got != 1 {
			t.Errorf("%s: %v panics counted, want 1", c, got)
		}
		if n := strings.Count(logs.String(), `panic="planted in `+c+`"`); n != 1 {
			t.Errorf("%s: logged %d times, want once", c, n)
		}
	}
}
