package web_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/web"
	"github.com/emostream/emostream/wire"
)

// This file stands in for the pipeline while the browser test runs: a real
// nats-server with JetStream and a WebSocket listener, the swarm stream, and
// a small HTTP server with the ingest API's routes whose /v1/emojis records
// events, which the test then publishes as one swarm.

const (
	testWindow    = 2 * time.Second
	testThreshold = 5 // small, so that a few clicks make swarm units
)

// natsServer is a nats-server on loopback with JetStream and NATS WebSocket,
// holding the swarm stream.
type natsServer struct {
	t     *testing.T
	opts  server.Options
	srv   *server.Server
	WSURL string
	JS    jetstream.JetStream
}

// startNATS starts the server on random ports, creates the swarm stream, and
// connects a JetStream client to it.
func startNATS(t *testing.T) *natsServer {
	t.Helper()
	n := &natsServer{t: t, opts: server.Options{
		ServerName: "web-test",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		Websocket:  server.WebsocketOpts{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoTLS: true},
	}}
	n.start()
	t.Cleanup(n.stop)
	// Keep the ports, so that a restart comes back where the clients look.
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	u, err := url.Parse(n.srv.WebsocketURL())
	if err != nil {
		t.Fatal(err)
	}
	n.opts.Websocket.Port, _ = strconv.Atoi(u.Port())
	n.WSURL = n.srv.WebsocketURL()

	nc, err := nats.Connect(n.srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connecting to nats-server: %v", err)
	}
	t.Cleanup(nc.Close)
	if n.JS, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err = n.JS.CreateStream(ctx, swarmStreamConfig()); err != nil {
		t.Fatalf("creating %s: %v", wire.SwarmsStream, err)
	}
	return n
}

// swarmStreamConfig is the swarm stream as the processor makes it.
func swarmStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              wire.SwarmsStream,
		Subjects:          []string{wire.SwarmsSubjects},
		MaxMsgsPerSubject: 100,
		AllowDirect:       true,
		RePublish:         &jetstream.RePublish{Source: wire.SwarmsSubjects, Destination: wire.LiveSubjects},
	}
}

func (n *natsServer) start() {
	n.t.Helper()
	opts := n.opts // NewServer keeps and changes its options
	s, err := server.NewServer(&opts)
	if err != nil {
		n.t.Fatalf("nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatal("nats-server did not start")
	}
	n.srv = s
}

func (n *natsServer) stop() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// restart stops the server and starts it again on the same ports and store,
// then waits for the JetStream client to be back.
func (n *natsServer) restart() {
	n.t.Helper()
	n.stop()
	n.start()
	waitFor(n.t, "the test's NATS client to reconnect", func() bool { return n.JS.Conn().IsConnected() })
}

// fakeIngest serves the page and the ingest API's routes. Its /v1/emojis
// records accepted events; publish turns what it recorded into a swarm.
type fakeIngest struct {
	t   *testing.T
	js  jetstream.JetStream
	cfg web.ClientConfig
	URL string

	mu       sync.Mutex
	pending  map[string]map[string]int64 // match → emoji → count since the last publish
	carry    map[string]map[string]int64 // match → remainder below the threshold
	accepted int64                       // events answered 202, ever
	last     time.Time                   // start of the last published window
	fail     int                         // answer the next requests with this status (0: accept)
	stored   map[string][]*wire.Swarm    // match → the swarms published, for the timeline
}

func newFakeIngest(t *testing.T, n *natsServer) *fakeIngest {
	f := &fakeIngest{
		t:  t,
		js: n.JS,
		cfg: web.ClientConfig{
			WebSocketURLs:  []string{n.WSURL},
			WindowMs:       testWindow.Milliseconds(),
			SwarmThreshold: testThreshold,
			EmojiTypes:     wire.DefaultEmojis,
		},
		pending: map[string]map[string]int64{},
		carry:   map[string]map[string]int64{},
		stored:  map[string][]*wire.Swarm{},
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(web.Static()))
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, f.cfg) })
	mux.HandleFunc("GET /v1/emoji-types", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string][]string{"emoji_types": f.cfg.EmojiTypes})
	})
	mux.HandleFunc("POST /v1/emojis", f.postEmojis)
	mux.HandleFunc("GET /v1/matches/{id}/timeline", f.timeline)
	srv := httptest.NewServer(mux) // 127.0.0.1, random port
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

type testEvent struct {
	UserID    string `json:"user_id"`
	MatchID   string `json:"match_id"`
	EmojiType string `json:"emoji_type"`
}

func (f *fakeIngest) postEmojis(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	switch fail {
	case 0:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "3")
		writeError(w, fail, "rate_limited", "too many requests", -1)
		return
	case http.StatusBadRequest:
		writeError(w, fail, "unknown_emoji", "unknown emoji_type", 0)
		return
	default:
		writeError(w, fail, "unavailable", "kafka unavailable", -1)
		return
	}
	events, ok := decodeEvents(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		if f.pending[e.MatchID] == nil {
			f.pending[e.MatchID] = map[string]int64{}
		}
		f.pending[e.MatchID][e.EmojiType]++
	}
	f.accepted += int64(len(events))
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(events)})
}

// decodeEvents reads one event or an array, as ingest does, and answers 400
// itself when the body is bad.
func decodeEvents(w http.ResponseWriter, r *http.Request) ([]testEvent, bool) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeError(w, 400, "bad_json", err.Error(), -1)
		return nil, false
	}
	var events []testEvent
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &events); err != nil {
			writeError(w, 400, "bad_json", err.Error(), -1)
			return nil, false
		}
	} else {
		var e testEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			writeError(w, 400, "bad_json", err.Error(), -1)
			return nil, false
		}
		events = []testEvent{e}
	}
	if len(events) == 0 || len(events) > wire.MaxBatch {
		writeError(w, 400, "bad_batch", "want 1 to 1000 events", -1)
		return nil, false
	}
	for i, e := range events {
		if !wire.ValidMatchID(e.MatchID) || e.UserID == "" || e.EmojiType == "" {
			writeError(w, 400, "bad_event", "bad match_id, user_id or emoji_type", i)
			return nil, false
		}
	}
	return events, true
}

// setFail makes the next requests fail with status (0 accepts again).
func (f *fakeIngest) setFail(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = status
}

// total is the count of events accepted so far.
func (f *fakeIngest) total() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted
}

// publish stores one swarm of match with the counts recorded since the last
// publish (plus extra), as the processor would, and returns it. Each publish
// gets a later window than the one before.
func (f *fakeIngest) publish(match string, extra map[string]int64) *wire.Swarm {
	f.t.Helper()
	f.mu.Lock()
	counts := f.pending[match]
	delete(f.pending, match)
	if counts == nil {
		counts = map[string]int64{}
	}
	for e, n := range extra {
		counts[e] += n
	}
	end := f.nextWindowLocked().Add(testWindow)
	units, rest := wire.Compress(counts, f.carry[match], testThreshold)
	f.carry[match] = rest
	f.mu.Unlock()

	sw := &wire.Swarm{MatchID: match, WindowStart: end.Add(-testWindow), WindowEnd: end,
		Counts: counts, Swarm: units, Carry: rest, Partitions: 1,
		ClosedBy: wire.ClosedByAllPartitions, PublishedAt: time.Now()}
	for _, n := range counts {
		sw.Total += n
	}
	f.store(sw)
	return sw
}

// store publishes sw to the swarm stream, as the processor does, and
// remembers it for the timeline.
func (f *fakeIngest) store(sw *wire.Swarm) {
	f.t.Helper()
	body, err := sw.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.js.Publish(ctx, wire.SwarmSubject(sw.MatchID), body, jetstream.WithMsgID(sw.MsgID())); err != nil {
		f.t.Fatalf("publishing swarm: %v", err)
	}
	f.mu.Lock()
	f.stored[sw.MatchID] = append(f.stored[sw.MatchID], sw)
	f.mu.Unlock()
}

// nextWindowLocked returns the start of the next window to publish: the
// one that ended last, or later than the last published. f.mu is held.
func (f *fakeIngest) nextWindowLocked() time.Time {
	end := wire.WindowOf(time.Now(), testWindow)
	if !end.After(f.last.Add(testWindow)) {
		end = f.last.Add(2 * testWindow)
	}
	f.last = end.Add(-testWindow)
	return f.last
}

// nextWindow is nextWindowLocked for callers without f.mu.
func (f *fakeIngest) nextWindow() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nextWindowLocked()
}

// publishOnTime waits for the current window to end, then publishes it, so
// that its delay on the page looks like the real pipeline's.
func (f *fakeIngest) publishOnTime(match string, extra map[string]int64) *wire.Swarm {
	f.t.Helper()
	waitFor(f.t, "the next window boundary", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return wire.WindowOf(time.Now(), testWindow).After(f.last.Add(testWindow))
	})
	return f.publish(match, extra)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, index int) {
	e := map[string]any{"code": code, "message": msg}
	if index >= 0 {
		e["index"] = index
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// waitFor polls cond until it holds or 20 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
}
