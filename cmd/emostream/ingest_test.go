package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// TestIngestStartsWhileTheHubIsDown: "emostream ingest" started while the
// hub holding the match registry is down serves, answers /readyz 503
// registry_unavailable, and takes reactions once the hub is back.
func TestIngestStartsWhileTheHubIsDown(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Connect()
	reg, err := registry.Open(context.Background(), js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(context.Background(), registry.Match{ID: "m1", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
	k := testenv.StartKafka(t, 1)

	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, env, []string{"ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0",
			"--kafka-brokers", k.Addr(), "--nats", n.URL})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v\n%s", err, out.String())
		}
	})
	addr := regexp.MustCompile(`ingest listening on (http://\S+) \(ops: (http://\S+)\)`)
	var url, ops string
	testenv.WaitFor(t, 20*time.Second, "ingest serving", func() bool {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			url, ops = m[1], m[2]
		}
		return url != ""
	})
	// The registry's series exist from the start, at 0 while it is not
	// opened, beside the process's.
	fams := scrape(t, ops+"/metrics")
	for _, name := range []string{"emostream_registry_matches", "emostream_registry_auto_matches_total", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("ingest with the hub down serves no %s", name)
		}
	}
	readyz := func() (int, string) {
		res, err := http.Get(url + "/readyz")
		if err != nil {
			return 0, ""
		}
		defer res.Body.Close()
		var body struct{ Error struct{ Code string } }
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Error.Code
	}
	testenv.WaitFor(t, 20*time.Second, "/readyz 503 registry_unavailable while the hub is down", func() bool {
		status, code := readyz()
		return status == http.StatusServiceUnavailable && code == wire.CodeRegistryUnavailable
	})
	n.Restart()
	testenv.WaitFor(t, 30*time.Second, "/readyz 200 once the hub is back", func() bool {
		status, _ := readyz()
		return status == http.StatusOK
	})
	res, err := http.Post(url+"/v1/emojis", "application/json",
		strings.NewReader(`{"user_id":"u","match_id":"m1","emoji_type":"🔥"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("a reaction to the live match: %d", res.StatusCode)
	}
}
