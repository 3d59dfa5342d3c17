package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/client"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry/registrytest"
	"github.com/emostream/emostream/wire"
)

// Timeline decodes a stored match's answer; WriteTimeline copies its CSV;
// a refused query is an *HTTPError carrying the API's code.
func TestTimeline(t *testing.T) {
	env := registrytest.Start(t, "final")
	ctx := context.Background()
	t0 := wire.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), 60_000)
	for i := range 5 {
		b, _ := json.Marshal(wire.TimelineRecord{Start: t0 + int64(i)*2000, Counts: map[string]int64{"🔥": 10, "👏": int64(i)}, Total: 10 + int64(i)})
		if _, err := env.JS.Publish(ctx, wire.TimelineSubject("final", wire.TimelineWindows), b); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, startIngest(t, ingest.Config{KafkaBrokers: []string{testenv.StartKafka(t, 1).Addr()},
		Matches: env.Registry, Timeline: timeline.NewReader(env.NC, wire.TimelineStream, 0)}))
	q := client.TimelineQuery{Match: "final", Step: "10s", By: "named"}
	a, err := c.Timeline(ctx, q)
	if err != nil || a.Match != "final" || a.Step != "10s" || len(a.Steps) != 1 || a.Total != 60 || a.Totals["👏"] != 10 ||
		a.Steps[0].Start.UnixMilli() != t0 || a.Steps[0].End.Sub(a.Steps[0].Start) != 10*time.Second {
		t.Fatalf("Timeline: %+v, %v", a, err)
	}
	var csv bytes.Buffer
	q.Format = "csv"
	if err := c.WriteTimeline(ctx, q, &csv); err != nil || !strings.HasPrefix(csv.String(), "start,end,total,🔥,") ||
		!strings.Contains(csv.String(), ",60,50,") {
		t.Fatalf("WriteTimeline csv: %v\n%s", err, csv.String())
	}
	for _, q := range []client.TimelineQuery{{Match: "nope"}, {Match: "final", Step: "3s"}} {
		var he *client.HTTPError
		_, err := c.Timeline(ctx, q)
		if !errors.As(err, &he) || !strings.HasPrefix(he.Status, "4") || !strings.Contains(he.Body, `"code"`) {
			t.Errorf("%+v: %v, want an *HTTPError with the API's code", q, err)
		}
	}
}
