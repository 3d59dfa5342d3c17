package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/streams"
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
	url, ops := runIngestCLI(t, "--nats", n.URL)
	// The registry's series exist from the start, at 0 while it is not
	// opened, beside the process's.
	fams := scrape(t, ops+"/metrics")
	for _, name := range []string{"emostream_registry_matches", "emostream_registry_auto_matches_total", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("ingest with the hub down serves no %s", name)
		}
	}
	testenv.WaitFor(t, 20*time.Second, "/readyz 503 registry_unavailable while the hub is down", func() bool {
		status, code := readyz(url)
		return status == http.StatusServiceUnavailable && code == wire.CodeRegistryUnavailable
	})
	n.Restart()
	testenv.WaitFor(t, 30*time.Second, "/readyz 200 once the hub is back", func() bool {
		status, _ := readyz(url)
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

// runIngestCLI runs "emostream ingest" on random ports with a one-partition
// Kafka and the NATS flags given, until the test ends; it returns its API
// and ops URLs.
func runIngestCLI(t *testing.T, nats ...string) (url, ops string) {
	k := testenv.StartKafka(t, 1)
	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, env, append([]string{"ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0",
			"--kafka-brokers", k.Addr()}, nats...))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v\n%s", err, out.String())
		}
	})
	addr := regexp.MustCompile(`ingest listening on (http://\S+) \(ops: (http://\S+)\)`)
	testenv.WaitFor(t, 20*time.Second, "ingest serving", func() bool {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			url, ops = m[1], m[2]
		}
		return url != ""
	})
	return url, ops
}

// readyz is ingest's /readyz: its status and error code.
func readyz(url string) (int, string) {
	res, err := http.Get(url + "/readyz")
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	var body struct{ Error struct{ Code string } }
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Error.Code
}

// TestIngestAsUserIngest: "emostream ingest" as the hub's user ingest, in
// its account INGEST, binds and watches the registry and reads the
// timeline through INGEST's imports: it connects with ingest's inbox
// prefix, the only inboxes the user may receive on.
func TestIngestAsUserIngest(t *testing.T) {
	dir := t.TempDir()
	passwords, err := readPasswords(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := fanout.NewHub(fanout.HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
		Passwords: passwords, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	ctx := context.Background()
	as := func(user string) jetstream.JetStream {
		return testenv.JetStream(t, h.ClientURL(), nats.UserInfo(user, passwords[user]))
	}
	reg, err := registry.Open(ctx, as(fanout.UserAdmin), registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(ctx, registry.Match{ID: "m1", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	if err := streams.Ensure(ctx, as(fanout.UserProcessor), streams.Config{}); err != nil {
		t.Fatal(err)
	}
	url, _ := runIngestCLI(t, "--nats", h.ClientURL(), "--nats-user", fanout.UserIngest,
		"--nats-password-file", filepath.Join(dir, fanout.UserIngest+".password"))
	testenv.WaitFor(t, 30*time.Second, "/readyz 200: the registry read", func() bool {
		status, _ := readyz(url)
		return status == http.StatusOK
	})
	if _, err := reg.End(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the watch sees m1 end: 409 match_not_live", func() bool {
		res, err := http.Post(url+"/v1/emojis", "application/json", strings.NewReader(`{"user_id":"u","match_id":"m1","emoji_type":"🔥"}`))
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusConflict
	})
	res, err := http.Get(url + "/v1/matches/m1/timeline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !json.Valid(body) {
		t.Fatalf("the timeline as user ingest: %d %s", res.StatusCode, body)
	}
}

// TestIngestOnAnOlderHubSaysSo: a hub whose configuration predates account
// INGEST (user ingest in the streams' account, receiving only on _INBOX.>)
// refuses ingest's reply inboxes; "emostream ingest" exits at once naming
// them and what to change, instead of waiting unready for ever.
func TestIngestOnAnOlderHubSaysSo(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "hub.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `listen: "127.0.0.1:-1"
jetstream {store_dir: %q}
accounts {STAGES {jetstream: enabled, users: [{user: ingest, password: old-hub,
  permissions: {publish: {allow: ["$JS.API.>"]}, subscribe: {allow: ["_INBOX.>"]}}}]}}
`, filepath.Join(dir, "js")), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{}
	if err := opts.ProcessConfigFile(conf); err != nil {
		t.Fatal(err)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	pw := filepath.Join(dir, "ingest.password")
	if err := os.WriteFile(pw, []byte("old-hub\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := testenv.StartKafka(t, 1)
	var out testenv.LogBuffer
	start := time.Now()
	err = runCommandTo(t, &out, nil, "ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0",
		"--kafka-brokers", k.Addr(), "--nats", s.ClientURL(), "--nats-user", fanout.UserIngest, "--nats-password-file", pw)
	if err == nil || !strings.Contains(err.Error(), wire.IngestInboxPrefix+".>") || !strings.Contains(err.Error(), "Upgrading to account INGEST") {
		t.Fatalf("ingest on an older hub: %v, want an error naming %s.> and the upgrade (after %v)\n%s",
			err, wire.IngestInboxPrefix, time.Since(start).Round(time.Millisecond), out.String())
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
}
