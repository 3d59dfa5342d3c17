package edge

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestFrameSplitAcrossReads: a viewer's frame that one read of the edge
// cut in two, followed by more frames than ReadLimit in the next read, is
// parsed like any other: the connection stays open and answers a PING.
// nbio refuses a read when the bytes it holds of an unfinished frame plus
// the new read pass ReadLimit, so ReadLimit must leave room for a whole
// read after the largest frame.
func TestFrameSplitAcrossReads(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL()})
	rc := dialRaw(t, e)
	if st := rc.handshake(); st != 101 {
		t.Fatalf("handshake: status %d", st)
	}
	pongs := wsFrame([]byte(strings.Repeat("PONG\r\n", 300))) // 1,800 bytes of PONGs, which need no answer
	// One write the edge reads at once: a PING, and the start of a frame.
	if _, err := rc.conn.Write(append(wsFrame([]byte(connectOp+"PING\r\n")), pongs[:100]...)); err != nil {
		t.Fatal(err)
	}
	if got, closed := rc.until("PONG", 10*time.Second); closed || !strings.Contains(got, "PONG") {
		t.Fatalf("first PING: got %q, closed %v", got, closed)
	}
	// The edge holds the start of the frame; the rest and more, at once.
	rest := append(bytes.Clone(pongs[100:]), bytes.Repeat(pongs, 8)...)
	rest = append(rest, wsFrame([]byte("PING\r\n"))...)
	if len(rest) <= e.engine.ReadLimit {
		t.Fatalf("the second write, %d bytes, is within ReadLimit %d: it tests nothing", len(rest), e.engine.ReadLimit)
	}
	rc.got.Reset()
	if _, err := rc.conn.Write(rest); err != nil {
		t.Fatal(err)
	}
	if got, closed := rc.until("PONG", 10*time.Second); closed || !strings.Contains(got, "PONG") {
		t.Fatalf("PING after a frame split across reads: got %q, closed %v", got, closed)
	}
}
