package broker

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// listener is the broker's: its TCP listener's connections and in-process
// ones (Broker.Dial) on one Accept.
type listener struct {
	net.Listener
	mem  chan net.Conn
	tcp  chan accepted
	done chan struct{}
	once sync.Once

	next   atomic.Int64 // the last in-process connection's number
	dialed atomic.Int64 // in-process connections accepted
	tcpN   atomic.Int64 // TCP connections accepted
}

type accepted struct {
	c   net.Conn
	err error
}

func newListener(ln net.Listener) *listener {
	l := &listener{Listener: ln, mem: make(chan net.Conn), tcp: make(chan accepted), done: make(chan struct{})}
	go l.acceptTCP()
	return l
}

// acceptTCP hands the TCP listener's connections to Accept. A temporary
// error (out of file descriptors, a connection reset before it was
// accepted) is waited out here, as net/http's server does, so it ends
// neither the broker's TCP service nor the in-process one; any other
// error is handed on and ends both.
func (l *listener) acceptTCP() {
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil && temporary(err) {
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(wait):
				continue
			case <-l.done:
				return
			}
		}
		wait = 0
		select {
		case l.tcp <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			return
		}
		l.tcpN.Add(1)
	}
}

// temporary reports whether a failed Accept may succeed if tried again.
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	return !errors.Is(err, net.ErrClosed) && errors.As(err, &t) && t.Temporary()
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.mem:
		return c, nil
	case a := <-l.tcp:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// dial opens an in-process connection, once Accept takes it.
func (l *listener) dial(ctx context.Context) (net.Conn, error) {
	c, s := memPipe(memAddr(l.next.Add(1)), l.Addr())
	select {
	case l.mem <- s:
		l.dialed.Add(1)
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
