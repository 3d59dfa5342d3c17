package web

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The embeddable JavaScript client (web/client, docs/client.md): its size
// budget, its node tests, its committed build, and a run against a real
// nats-server. Without node (or npm) the tests that need it skip with the
// install command, and fail under CI=true.

const (
	nodeInstall  = "apt-get install -y nodejs npm"
	clientBudget = 20 * 1024 // bytes of dist/emostream.min.js gzipped
)

// TestClientBundleBudget gzips the embedded client: it must stay within
// 20 KiB, NATS subset included, and be the committed file.
func TestClientBundleBudget(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(Client()); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	t.Logf("client/dist/emostream.min.js: %d bytes, %d gzipped (budget %d)", len(Client()), buf.Len(), clientBudget)
	if buf.Len() > clientBudget {
		t.Errorf("the client is %d bytes gzipped, over its budget of %d", buf.Len(), clientBudget)
	}
	onDisk, err := os.ReadFile("client/dist/emostream.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, Client()) {
		t.Error("web.Client() is not client/dist/emostream.min.js")
	}
	exports := regexp.MustCompile(`export\s*\{([^}]*)\}`).FindSubmatch(Client())
	if exports == nil || !bytes.Contains(exports[1], []byte("createClient")) {
		t.Errorf("the client is not an ES module exporting createClient")
	}
}

// TestClientNodeTests runs the client's unit tests with node's test runner.
func TestClientNodeTests(t *testing.T) {
	node := testenv.RequireTool(t, "node", nodeInstall)
	out, err := runIn(t, "client", 3*time.Minute, node, "--test", "test/")
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "# tests") || strings.HasPrefix(l, "# pass") || strings.HasPrefix(l, "# fail") {
			t.Log(l)
		}
	}
}

// TestClientBuildMatches builds the client from a copy of its sources with
// the pinned esbuild (npm ci) and checks that the committed dist/ is that
// build, and that the types check (tsc --noEmit on types/usage.ts).
func TestClientBuildMatches(t *testing.T) {
	if testing.Short() {
		t.Skip("npm ci in -short mode")
	}
	node := testenv.RequireTool(t, "node", nodeInstall)
	npm := testenv.RequireTool(t, "npm", nodeInstall)
	dir := t.TempDir()
	if err := copySources("client", dir); err != nil {
		t.Fatal(err)
	}
	if out, err := runIn(t, dir, 5*time.Minute, npm, "ci", "--no-audit", "--no-fund"); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	if out, err := runIn(t, dir, 2*time.Minute, node, "build.mjs", "fresh"); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, f := range []string{"emostream.js", "emostream.min.js"} {
		fresh, err := os.ReadFile(filepath.Join(dir, "fresh", f))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join("client", "dist", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("web/client/dist/%s is not what src/ builds to: run 'npm run build' in web/client and commit dist/", f)
		}
	}
	if out, err := runIn(t, dir, 2*time.Minute, node, "node_modules/typescript/bin/tsc", "-p", "types/tsconfig.json"); err != nil {
		t.Errorf("tsc --noEmit on types/usage.ts: %v\n%s", err, out)
	}
}

// copySources copies the client's folder without node_modules and dist.
func copySources(from, to string) error {
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			if rel == "node_modules" || rel == "dist" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
}

func runIn(t *testing.T, dir string, limit time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestClientRealNATS runs the client in node against a real nats-server
// with JetStream and WebSocket and the swarm stream as the processor makes
// it: the join reads the latest stored swarm, live swarms follow, a forged
// one on the live subject is dropped, and after the server restarts the
// windows stored while the client could not reach it are recovered by
// sequence.
func TestClientRealNATS(t *testing.T) {
	node := testenv.RequireTool(t, "node", nodeInstall)
	wsFlag := webSocketFlag(t, node)
	srv := startClientNATS(t)
	const match = "final-2026"
	base := time.Now().Add(-time.Hour).Truncate(2 * time.Second)
	publish := func(i int) {
		t.Helper()
		start := base.Add(time.Duration(i) * 2 * time.Second)
		body, _ := json.Marshal(wire.Swarm{MatchID: match, WindowStart: start, WindowEnd: start.Add(2 * time.Second),
			Counts: map[string]int64{"🔥": int64(1000 * (i + 1))}, Total: int64(1000 * (i + 1)), Viewers: int64(40 + i)})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := srv.js.Publish(ctx, wire.SwarmSubject(match), body); err != nil {
			t.Fatalf("publishing window %d: %v", i, err)
		}
	}
	publish(0)

	args := append(wsFlag, "tools/watch.mjs", srv.wsURL, match, "500")
	cmd := exec.Command(node, args...)
	cmd.Dir = "client"
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("node stderr:\n%s", stderr.String())
		}
	})
	events := make(chan clientEvent, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e clientEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				events <- e
			}
		}
		close(events)
	}()
	window := func(i int) int64 { return base.Add(time.Duration(i) * 2 * time.Second).UnixMilli() }

	expectEvent(t, events, "connected", func(e clientEvent) bool { return e.Type == "status" && e.Value.State == "connected" })
	expectEvent(t, events, "window 0 as the latest", func(e clientEvent) bool { return e.isSwarm("latest", window(0)) })
	publish(1)
	expectEvent(t, events, "window 1 live", func(e clientEvent) bool { return e.isSwarm("live", window(1)) })

	forged, _ := json.Marshal(wire.Swarm{MatchID: "other", WindowStart: base.Add(time.Minute), WindowEnd: base.Add(time.Minute + 2*time.Second)})
	if err := srv.nc.Publish(wire.LiveSubject(match), forged); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, "the forged swarm dropped", func(e clientEvent) bool { return e.Type == "drop" && e.Reason == "other match" })

	// The server comes back without its WebSocket listener, so the client
	// cannot see windows 2 and 3 live; then with it again.
	wsPort := srv.opts.Websocket.Port
	srv.opts.Websocket.Port = server.RANDOM_PORT
	srv.restart(t)
	publish(2)
	publish(3)
	srv.opts.Websocket.Port = wsPort
	srv.restart(t)
	expectEvent(t, events, "reconnecting", func(e clientEvent) bool { return e.Type == "status" && e.Value.State == "reconnecting" })
	expectEvent(t, events, "connected again", func(e clientEvent) bool { return e.Type == "status" && e.Value.State == "connected" })
	expectEvent(t, events, "window 2 recovered", func(e clientEvent) bool { return e.isSwarm("recovered", window(2)) })
	expectEvent(t, events, "window 3 recovered", func(e clientEvent) bool { return e.isSwarm("recovered", window(3)) })
	publish(4) // live, or read by the recovery's last "next" if that comes after it was stored
	expectEvent(t, events, "window 4", func(e clientEvent) bool {
		return e.isSwarm("live", window(4)) || e.isSwarm("recovered", window(4))
	})
}

// clientEvent is one line of tools/watch.mjs.
type clientEvent struct {
	Type   string
	Value  clientEventValue
	Reason string // a drop's value
}

type clientEventValue struct {
	State  string `json:"state"`
	Source string `json:"source"`
	Start  int64  `json:"start"`
}

func (e *clientEvent) UnmarshalJSON(b []byte) error {
	var raw struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	e.Type = raw.Type
	if json.Unmarshal(raw.Value, &e.Reason) == nil {
		return nil
	}
	return json.Unmarshal(raw.Value, &e.Value)
}

func (e clientEvent) isSwarm(source string, start int64) bool {
	return e.Type == "swarm" && e.Value.Source == source && e.Value.Start == start
}

// expectEvent reads events until one matches, failing on a swarm out of
// order or after 20 s.
func expectEvent(t *testing.T, events <-chan clientEvent, what string, ok func(clientEvent) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case e, open := <-events:
			if !open {
				t.Fatalf("waiting for %s: the client ended; it reported %v", what, seen)
			}
			if ok(e) {
				return
			}
			seen = append(seen, e.Type+":"+e.Value.State+e.Value.Source+e.Reason)
			if e.Type == "gap" {
				t.Fatalf("waiting for %s: a gap was reported; events %v", what, seen)
			}
		case <-deadline:
			t.Fatalf("no %s within 20 s; the client reported %v", what, seen)
		}
	}
}

// webSocketFlag is the flag node needs for its WebSocket (Node 20, 21).
func webSocketFlag(t *testing.T, node string) []string {
	out, err := exec.Command(node, "-p", "typeof WebSocket").Output()
	if err == nil && strings.TrimSpace(string(out)) == "function" {
		return nil
	}
	out, err = exec.Command(node, "--experimental-websocket", "-p", "typeof WebSocket").Output()
	if err == nil && strings.TrimSpace(string(out)) == "function" {
		return []string{"--experimental-websocket"}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("node has no WebSocket (Node 20.10 or later needed): %s", nodeInstall)
	}
	t.Skipf("node has no WebSocket (Node 20.10 or later needed)")
	return nil
}

// clientNATS is a nats-server with JetStream and WebSocket on loopback,
// holding the swarm stream, with a stage connection that publishes.
type clientNATS struct {
	opts  server.Options
	srv   *server.Server
	wsURL string
	nc    *nats.Conn
	js    jetstream.JetStream
}

func startClientNATS(t *testing.T) *clientNATS {
	t.Helper()
	n := &clientNATS{opts: server.Options{ServerName: "client-test", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Websocket: server.WebsocketOpts{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoTLS: true}}}
	n.start(t)
	t.Cleanup(func() { n.srv.Shutdown(); n.srv.WaitForShutdown() })
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port // a restart comes back on the same ports
	n.wsURL = n.srv.WebsocketURL()
	u, err := url.Parse(n.wsURL)
	if err != nil {
		t.Fatal(err)
	}
	n.opts.Websocket.Port, _ = strconv.Atoi(u.Port())
	if n.nc, err = nats.Connect(n.srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.nc.Close)
	if n.js, err = jetstream.New(n.nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.js.CreateStream(ctx, jetstream.StreamConfig{Name: wire.SwarmsStream, Subjects: []string{wire.SwarmsSubjects},
		MaxMsgsPerSubject: 100, AllowDirect: true,
		RePublish: &jetstream.RePublish{Source: wire.SwarmsSubjects, Destination: wire.LiveSubjects}}); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *clientNATS) start(t *testing.T) {
	t.Helper()
	opts := n.opts
	s, err := server.NewServer(&opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	n.srv = s
}

// restart stops the server and starts it on the same ports and store, then
// waits for the stage connection.
func (n *clientNATS) restart(t *testing.T) {
	t.Helper()
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.start(t)
	deadline := time.Now().Add(10 * time.Second)
	for !n.nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("the stage connection did not come back")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}
