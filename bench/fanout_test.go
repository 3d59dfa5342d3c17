package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The raw viewer parses NATS messages split across frames and answers
// PINGs.
func TestRawViewerParse(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go io.Copy(io.Discard, server) // the viewer's PONG
	v := &rawViewer{conn: client}
	tests := []struct {
		name    string
		in      string
		want    []string
		pong    bool
		pending string
	}{
		{"one message", "MSG emostream.live.a 1 5\r\nhello\r\n", []string{"hello"}, false, ""},
		{"ping and pong", "PING\r\nPONG\r\n", nil, true, ""},
		{"split message", "MSG emostream.live.a 1 5\r\nhel", nil, false, "MSG emostream.live.a 1 5\r\nhel"},
		{"two messages", "MSG a 1 1\r\nx\r\nMSG a 1 2\r\nyz\r\n", []string{"x", "yz"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.pending = []byte(tt.in)
			msgs, pong, err := v.parse()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, string(m))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || pong != tt.pong || string(v.pending) != tt.pending {
				t.Errorf("got %q pong %v pending %q; want %q pong %v pending %q", got, pong, v.pending, tt.want, tt.pong, tt.pending)
			}
		})
	}
	v.pending = []byte("-ERR 'Permissions Violation'\r\n")
	if _, _, err := v.parse(); err == nil {
		t.Error("-ERR: no error")
	}
}

// A stamped swarm is a valid swarm that carries its sequence number and
// publish time.
func TestSwarmStamp(t *testing.T) {
	before := time.Now()
	msg := stampedSwarm("final", 1, 7, before)
	if _, err := wire.DecodeSwarm(msg.Data); err != nil {
		t.Fatalf("stamped swarm does not decode: %v", err)
	}
	seq, sent, ok := swarmStamp(msg.Data)
	if !ok || seq != 7 || sent.Before(before) || msg.Subject != wire.SwarmSubject("final") {
		t.Errorf("stamp %d %v %v on %s", seq, sent, ok, msg.Subject)
	}
	if _, _, ok := swarmStamp([]byte(`{"match_id":"final"}`)); ok {
		t.Error("a swarm without the marker has a stamp")
	}
}

func TestPrintFanoutReport(t *testing.T) {
	bySeq := map[int][]time.Duration{0: {3 * time.Millisecond, time.Millisecond}, 1: {2 * time.Millisecond}}
	var out bytes.Buffer
	if err := PrintFanoutReport(&out, bySeq, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "swarms 2: median p50") {
		t.Errorf("report:\n%s", out.String())
	}
	if err := PrintFanoutReport(io.Discard, bySeq, 2); err == nil {
		t.Error("swarm 1 reached 1 of 2 viewers: no error")
	}
}

// Raw viewers on a real leaf receive the swarms PublishSwarms stores at
// the hub, with their stamps.
func TestFanoutBenchmark(t *testing.T) {
	hub, err := fanout.NewHub(fanout.HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0",
		LeafListen: "127.0.0.1:0", Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	leaf, err := fanout.NewLeaf(fanout.LeafConfig{Remotes: []string{hub.LeafRemote()}, WebSocketListen: "127.0.0.1:0",
		Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leaf.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const viewers = 3
	conns, err := dialRawViewers(ctx, []string{leaf.WebSocketURL()}, viewers, 2, wire.LiveSubject("final"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rec := &receiptLog{w: bufio.NewWriter(&buf)}
	for _, c := range conns {
		go c.run(rec)
		defer c.Close()
	}
	lines := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.w.Flush()
		return strings.Count(buf.String(), "\n")
	}
	nc, err := nats.Connect(hub.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The leaf learns of its viewers' interest asynchronously: publish
	// until one swarm reached every viewer.
	for got := 0; got < viewers; {
		before := lines()
		if err := PublishSwarms(ctx, nc, "final", 1, 50*time.Millisecond, io.Discard); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for got = lines() - before; got < viewers && time.Now().Before(deadline); got = lines() - before {
			time.Sleep(5 * time.Millisecond)
		}
		if ctx.Err() != nil {
			t.Fatalf("no swarm reached all %d viewers", viewers)
		}
	}
	rec.mu.Lock()
	text := buf.String()
	rec.mu.Unlock()
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(line, "0 ") {
			t.Errorf("receipt %q: want swarm 0", line)
		}
	}
}
