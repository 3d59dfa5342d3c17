package edge

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lesismal/nbio"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestViewersWaitingInTheBacklog: viewers that connected and sent their
// upgrade requests before the edge took any connection are all upgraded,
// get INFO, and are counted in.
//
// Under go test -race it is also the test of showHandOff: nbio's poller
// reads such a connection as soon as the accept goroutine registers it,
// and without showHandOff the race detector reports that read as racing
// with the accept whenever it comes before the accept's next step (most
// runs: each round is another chance).
func TestViewersWaitingInTheBacklog(t *testing.T) {
	wd := startWorld(t)
	const rounds, viewers = 4, 128
	for r := range rounds {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		clients := make([]*rawClient, viewers)
		for i := range clients {
			clients[i] = dialRawAddr(t, ln.Addr().String())
			fmt.Fprint(clients[i].conn, upgradeRequest)
		}
		e, stop := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), Listener: ln})
		for i, c := range clients {
			_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(c.r, nil)
			if err != nil {
				t.Fatalf("round %d, viewer %d: %v", r, i, err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("round %d, viewer %d: status %d", r, i, resp.StatusCode)
			}
			if got, _ := c.until("INFO ", 10*time.Second); !strings.HasPrefix(got, "INFO ") {
				t.Fatalf("round %d, viewer %d: got %q, want INFO", r, i, got)
			}
		}
		if got := testutil.ToFloat64(e.m.accepted); got != viewers {
			t.Errorf("round %d: %v connections accepted, want %d", r, got, viewers)
		}
		stop()
	}
}

// TestHandOffKeepsTheEngineHooks: showHandOff chains the engine's hooks
// instead of replacing them, so that one set before it (nbhttp's, or one
// a later nbio sets in NewEngine) still runs: on open, and on every read.
func TestHandOffKeepsTheEngineHooks(t *testing.T) {
	g := nbio.NewEngine(nbio.Config{NPoller: 1})
	opened, got := make(chan struct{}, 1), make(chan []byte, 8)
	g.OnOpen(func(*nbio.Conn) { opened <- struct{}{} })
	g.OnData(func(_ *nbio.Conn, data []byte) { got <- bytes.Clone(data) })
	if err := showHandOff(g); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client := dialRawAddr(t, ln.Addr().String()).conn
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddConn(server); err != nil {
		t.Fatal(err)
	}
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the OnOpen hook set before showHandOff did not run")
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var read []byte
	for len(read) < len("ping") {
		select {
		case b := <-got:
			read = append(read, b...)
		case <-time.After(10 * time.Second):
			t.Fatalf("the OnData hook set before showHandOff got %q, want %q", read, "ping")
		}
	}
	if string(read) != "ping" {
		t.Errorf("read %q, want %q", read, "ping")
	}
}

// If nbio renames a hook's field or changes its type, showHandOff says so
// instead of writing through the wrong field.
func TestEngineHookRefusesAnotherField(t *testing.T) {
	g := nbio.NewEngine(nbio.Config{NPoller: 1})
	if _, err := engineHook[func()](g, "onOpen"); err == nil {
		t.Error("onOpen as a func(): no error")
	}
	if _, err := engineHook[func(*nbio.Conn)](g, "onOpened"); err == nil || !strings.Contains(err.Error(), "onOpened") {
		t.Errorf("no field onOpened: got %v", err)
	}
}
