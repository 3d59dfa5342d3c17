package ratelimit

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emostream/emostream/internal/conncap"
)

// Listener is ln within the guard's connection caps (MaxConnections,
// MaxPerNetwork): a connection over one is answered 503 with
// Retry-After and closed at once, so idle connections, which the server's
// timeouts end, can hold no more than the caps, and one client never
// holds them all.
func (g *Guard) Listener(ln net.Listener) net.Listener {
	return &guardedListener{Listener: ln, g: g}
}

type guardedListener struct {
	net.Listener
	g *Guard
}

// Accept returns the next connection within the caps.
func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// refusedConn is the answer on a connection over a cap. It fits a
// socket's send buffer, so writing it does not hold up the accept loop.
var refusedConn = func() []byte {
	body := "this ops listener has as many connections as it allows, or you hold your share; retry shortly\n"
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

// admit counts c in, or refuses it and returns nil.
func (g *Guard) admit(c net.Conn) net.Conn {
	var a netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a = ta.AddrPort().Addr()
	}
	k := client(a)
	if !g.conns.add(k) {
		g.refused.Inc()
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(refusedConn)
		_ = c.Close()
		return nil
	}
	return &guardedConn{Conn: c, n: &g.conns, client: k}
}

// add counts a connection of client k in, if the caps admit it.
func (c *connCount) add(k netip.Prefix) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caps.Admit(c.open, c.byClient[k], len(c.byClient), false) != conncap.Admit {
		return false
	}
	c.open++
	c.byClient[k]++
	return true
}

func (c *connCount) release(k netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	if c.byClient[k]--; c.byClient[k] <= 0 {
		delete(c.byClient, k)
	}
}

// guardedConn is an admitted connection; closing it frees its place.
type guardedConn struct {
	net.Conn
	n      *connCount
	client netip.Prefix
	once   sync.Once
}

func (c *guardedConn) Close() error {
	c.once.Do(func() { c.n.release(c.client) })
	return c.Conn.Close()
}
