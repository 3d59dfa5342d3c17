package broker

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// memBufMax bounds what one direction of a memory connection holds
// unread: a writer waits while the reader has this much to read, as it
// would for a full socket buffer.
const memBufMax = 4 << 20

// memKeep is the largest buffer a direction keeps once it is read empty:
// one fetch response of the bridge (4 MiB) is reused, not reallocated.
const memKeep = memBufMax + 64<<10

// memConn is one end of an in-process connection to the broker (Dial):
// each direction is a buffer a Write appends to and a Read takes from,
// so a reply wakes the goroutine waiting for it through the scheduler
// alone, with no system call and no wait for the network poller.
type memConn struct {
	in, out       *memBuf
	rd, wd        deadline
	wmu           sync.Mutex // one Write at a time, whole, as on a socket
	local, remote net.Addr
	closed        chan struct{} // this end's Close
	closeOne      sync.Once
	ended         *ended // either end's Close, shared by the two ends
}

// ended is closed by the first Close of either end of a connection.
type ended struct {
	ch   chan struct{}
	once sync.Once
}

// memBuf is one direction of a memory connection.
type memBuf struct {
	mu   sync.Mutex
	buf  []byte
	off  int           // buf[off:] is unread
	data chan struct{} // a token: something to read, for one reader
	room chan struct{} // a token: room to write, for one writer
}

func newMemBuf() *memBuf {
	return &memBuf{data: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// memAddr is the address of the client end of in-process connection n,
// as the broker's logs and group descriptions show it.
type memAddr int64

func (memAddr) Network() string  { return "memory" }
func (a memAddr) String() string { return fmt.Sprintf("in-process:%d", int64(a)) }

// memPipe returns the two ends of a new in-process connection from
// client address from to the broker at addr.
func memPipe(from, addr net.Addr) (client, server *memConn) {
	a, b, e := newMemBuf(), newMemBuf(), &ended{ch: make(chan struct{})}
	client = &memConn{in: a, out: b, local: from, remote: addr, closed: make(chan struct{}), ended: e}
	server = &memConn{in: b, out: a, local: addr, remote: from, closed: make(chan struct{}), ended: e}
	for _, c := range []*memConn{client, server} {
		c.rd.init()
		c.wd.init()
	}
	return client, server
}

func token(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (c *memConn) Read(p []byte) (int, error) {
	for {
		if err := c.check(&c.rd); err != nil {
			return 0, err
		}
		if len(p) == 0 {
			return 0, nil
		}
		b := c.in
		b.mu.Lock()
		if b.off < len(b.buf) {
			n := copy(p, b.buf[b.off:])
			b.off += n
			more := b.off < len(b.buf)
			if !more { // start again at the front; a burst's large buffer goes
				b.buf, b.off = b.buf[:0], 0
				if cap(b.buf) > memKeep {
					b.buf = nil
				}
			}
			b.mu.Unlock()
			token(b.room)
			if more {
				token(b.data) // for another reader
			}
			return n, nil
		}
		b.mu.Unlock()
		select {
		case <-c.ended.ch:
			if c.isClosed() {
				return 0, net.ErrClosed
			}
			b.mu.Lock()
			empty := b.off == len(b.buf)
			b.mu.Unlock()
			if empty {
				return 0, io.EOF
			}
		case <-b.data:
		case <-c.rd.passed():
		}
	}
}

func (c *memConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for {
		if err := c.check(&c.wd); err != nil {
			return n, err
		}
		if n == len(p) {
			return n, nil // nothing to write
		}
		b := c.out
		select {
		case <-c.ended.ch:
			return n, io.ErrClosedPipe
		default:
		}
		b.mu.Lock()
		if free := memBufMax - (len(b.buf) - b.off); free > 0 {
			k := min(free, len(p)-n)
			if b.off > 0 && b.off >= len(b.buf)-b.off && len(b.buf)+k > cap(b.buf) {
				// reuse the read part when it is at least what is left to
				// move, so each byte is moved at most once per byte read
				b.buf, b.off = b.buf[:copy(b.buf, b.buf[b.off:])], 0
			}
			b.buf = append(b.buf, p[n:n+k]...)
			n += k
			b.mu.Unlock()
			token(b.data)
			if n == len(p) {
				return n, nil
			}
			continue
		}
		b.mu.Unlock()
		select {
		case <-c.ended.ch:
		case <-b.room:
		case <-c.wd.passed():
		}
	}
}

// check is the error of an operation on c now: closed, or past d.
func (c *memConn) check(d *deadline) error {
	if c.isClosed() {
		return net.ErrClosed
	}
	select {
	case <-d.passed():
		return os.ErrDeadlineExceeded
	default:
		return nil
	}
}

func (c *memConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Close ends both directions: the other end reads what was written
// before it, then io.EOF.
func (c *memConn) Close() error {
	c.closeOne.Do(func() {
		close(c.closed)
		c.ended.once.Do(func() { close(c.ended.ch) })
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

func (c *memConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

func (c *memConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// deadline is a read or write deadline: the channel passed returns is
// closed once it has passed.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{}
}

func (d *deadline) init() { d.ch = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // it fired: wait until its function has closed ch
	}
	d.timer = nil
	select {
	case <-d.ch:
		d.ch = make(chan struct{}) // passed before: a new deadline starts afresh
	default:
	}
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		ch := d.ch
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	close(d.ch)
}

func (d *deadline) passed() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}
