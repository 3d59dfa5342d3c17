package edge

import (
	"os/exec"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// TestChildHoldsNoViewer: a child process that the edge's process starts
// while a viewer is connected does not inherit the viewer's socket, so the
// edge's close reaches the viewer at once, not when the child exits. nbio
// duplicates each connection's descriptor without close-on-exec; an
// inherited socket also stayed in nbio's epoll set after the edge closed
// it, and its hang-up closed the next viewer given the same descriptor
// number (TestNATSCLI's "unexpected EOF" under load).
func TestChildHoldsNoViewer(t *testing.T) {
	cat := testenv.RequireTool(t, "cat", "apt-get install coreutils")
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL()})
	rc := dialRaw(t, e)
	if st := rc.handshake(); st != 101 {
		t.Fatalf("handshake: status %d", st)
	}
	if got, closed := rc.until("INFO", 10*time.Second); closed {
		t.Fatalf("no INFO: %q", got)
	}
	child := exec.Command(cat) // lives until its stdin ends
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = child.Wait() })
	if err := rc.send([]byte("BOGUS\r\n")); err != nil { // the edge answers -ERR and closes
		t.Fatal(err)
	}
	if got, closed := rc.until("\x00never\x00", 10*time.Second); !closed {
		t.Fatalf("the edge closed the viewer (%q), but the connection stayed open while a child process ran: the child holds its socket", got)
	}
}
