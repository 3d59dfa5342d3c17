package broker

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// listener is the broker's: its TCP listener's connections and in-process
// ones (Broker.Dial) on one Accept.
type listener struct {
	net.Listener
	mem  chan net.Conn
	tcp  chan accepted
	done chan struct{}
	once sync.Once
	n    atomic.Int64 // in-process connections accepted
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

// acceptTCP hands the TCP listener's connections to Accept until it fails.
func (l *listener) acceptTCP() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.tcp <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if ne, ok := err.(net.Error); err != nil && !(ok && ne.Timeout()) {
			return
		}
	}
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
	c, s := memPipe(l.Addr())
	select {
	case l.mem <- s:
		l.n.Add(1)
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
