package edge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawClient is a hand-made WebSocket client for hostile input: it sends
// whatever bytes it is told, in masked binary frames.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	got  bytes.Buffer // protocol bytes received so far
}

// dialRaw opens a TCP connection to the edge without a handshake.
func dialRaw(t testing.TB, e *Edge) *rawClient {
	t.Helper()
	return dialRawAddr(t, e.cfg.Listener.Addr().String())
}

// dialRawAddr is dialRaw to the listener at addr.
func dialRawAddr(t testing.TB, addr string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// upgradeRequest is a WebSocket upgrade request to the edge.
const upgradeRequest = "GET / HTTP/1.1\r\nHost: edge\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// handshake upgrades the connection, with extra header lines ("Name:
// value\r\n"); it returns the HTTP status.
func (c *rawClient) handshake(extra ...string) int {
	c.t.Helper()
	fmt.Fprintf(c.conn, "%s%s\r\n", strings.TrimSuffix(upgradeRequest, "\r\n"), strings.Join(extra, ""))
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("handshake: %v", err)
	}
	return resp.StatusCode
}

// send writes b in one masked binary frame.
func (c *rawClient) send(b []byte) error {
	_, err := c.conn.Write(wsFrame(b))
	return err
}

// wsFrame is b in one masked binary frame.
func wsFrame(b []byte) []byte {
	hdr := []byte{0x82, 0}
	switch n := len(b); {
	case n < 126:
		hdr[1] = 0x80 | byte(n)
	case n <= 0xffff:
		hdr[1] = 0x80 | 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = 0x80 | 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	hdr = append(hdr, 0, 0, 0, 0) // a zero mask leaves the payload as is
	return append(hdr, b...)
}

// readFrame reads one frame's payload.
func (c *rawClient) readFrame() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.r, p)
	if h[0]&0x0f == 0x8 {
		return p, io.EOF // close frame
	}
	return p, err
}

// until reads until the received protocol bytes contain want, or the
// connection ends; it returns what was received and whether the
// connection was closed.
func (c *rawClient) until(want string, d time.Duration) (string, bool) {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	for !strings.Contains(c.got.String(), want) {
		p, err := c.readFrame()
		c.got.Write(p)
		if err != nil {
			var ne net.Error
			return c.got.String(), !(errors.As(err, &ne) && ne.Timeout())
		}
	}
	return c.got.String(), false
}

// closed waits for the edge to close the connection.
func (c *rawClient) closed(d time.Duration) bool {
	_, closed := c.until("\x00never\x00", d)
	return closed
}
