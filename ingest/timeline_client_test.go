package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// TestTimelineClientsAreNotStoreFailures: a HEAD of a timeline, and a
// client that leaves in the middle of a long answer, are no fault of the
// store: requests_rejected_total{code="registry_unavailable"} (what an
// alert on the timeline store watches) stays 0 and nothing is warned. A
// HEAD used to stream the answer into a pipe fasthttp had closed.
func TestTimelineClientsAreNotStoreFailures(t *testing.T) {
	env := registrytest.Start(t, "final")
	ctx := context.Background()
	t0 := wire.WindowStart(time.Now().Add(-2*time.Hour).UnixMilli(), 60_000)
	for i := range 1200 { // over 64 KiB of answer at 2 s steps
		b, _ := json.Marshal(wire.TimelineRecord{Start: t0 + int64(i)*2000, Counts: map[string]int64{"🔥": 1}, Total: 1, Swarm: uint64(i + 1)})
		if _, err := env.JS.Publish(ctx, wire.TimelineSubject("final", wire.TimelineWindows), b, jetstream.WithMsgID(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	logs := &lockedBuffer{}
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{Matches: env.Registry,
		Timeline: timeline.NewReader(env.NC, wire.TimelineStream, 0), TimelineRate: -1,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	q := fmt.Sprintf("/v1/matches/final/timeline?step=2s&from=%d&to=%d", t0, t0+2400_000)
	series := `emostream_ingest_requests_rejected_total{code="registry_unavailable"}`

	if r := st.do(t, http.MethodGet, q, "", nil); r.status != 200 || len(r.body) < 64<<10 {
		t.Fatalf("GET: %d, %d bytes, want 200 and over 64 KiB", r.status, len(r.body))
	}
	r := st.do(t, http.MethodHead, q, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("HEAD: %d %v", r.status, r.header)
	}

	// A client that reads the head of the answer and leaves.
	c, err := net.Dial("tcp", strings.TrimPrefix(st.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", q)
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("status line %q, %v", line, err)
	}
	c.Close()
	testenv.WaitFor(t, 10*time.Second, "the stream to notice the client left", func() bool {
		return strings.Contains(logs.String(), "timeline answer not read to its end")
	})
	if v := metricValue(t, st, series); v != 0 {
		t.Errorf("%s = %v after a HEAD and a client that left, want 0", series, v)
	}
	if strings.Contains(logs.String(), "timeline answer cut short") {
		t.Errorf("warned of a store failure:\n%s", logs.String())
	}
}
