package stack_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every stage of "emostream up" counts its recovered panics in one
// emostream_panics_total on the shared registry (the edges' registerers
// carry an edge label, the process-wide counter none): /metrics gathers
// without error and shows a zero series per component.
func TestPanicsCounterShared(t *testing.T) {
	st := startStack(t, 2*time.Second)
	res, err := http.Get("http://" + st.Ingest.OpsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d %.500s", res.StatusCode, b)
	}
	for _, c := range []string{"ingest_api", "ingest_ops", "ingest_stream", "edge_http", "edge_viewer", "edge_upstream",
		"processor_occupancy", "registry_watch"} {
		if !strings.Contains(string(b), `emostream_panics_total{component="`+c+`"} 0`) {
			t.Errorf("no zero emostream_panics_total{component=%q}", c)
		}
	}
}
