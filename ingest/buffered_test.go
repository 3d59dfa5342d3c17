package ingest_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// TestBufferedEventsGauge: emostream_ingest_buffered_events counts the
// events a produce holds until Kafka answers, then falls back to 0.
func TestBufferedEventsGauge(t *testing.T) {
	kb := testenv.StartKafka(t, 1)
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	kb.Cluster().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		<-hold // the first produce waits; the broker handles it, and the rest, after
		return nil, nil, false
	})
	st := startIngest(t, kb.Target(), ingest.Config{FlushInterval: time.Hour, Window: time.Hour})
	buffered := func() float64 { return metricValue(t, st, "emostream_ingest_buffered_events") }
	if got := buffered(); got != 0 {
		t.Fatalf("buffered %v before any request", got)
	}

	statuses := make(chan int, 2)
	post := func(body string) {
		go func() {
			status := 0
			if resp, err := http.Post(st.url+"/v1/emojis", "application/json", strings.NewReader(body)); err == nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			statuses <- status
		}()
	}
	post(event("u-1", "m", "🔥"))
	evs := make([]string, 10)
	for i := range evs {
		evs[i] = event(fmt.Sprint("u-", i), "m", "👏")
	}
	post("[" + strings.Join(evs, ",") + "]")
	testenv.WaitFor(t, 10*time.Second, "11 events buffered while Kafka holds the produce", func() bool { return buffered() == 11 })
	release()
	for range 2 {
		if s := <-statuses; s != http.StatusAccepted {
			t.Errorf("status %d, want 202", s)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "an empty buffer once Kafka answered", func() bool { return buffered() == 0 })
}
