//go:build linux

package bench

import (
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// floorKey is a viewer's one subscription: every viewer of a key gets the
// same frame.
type floorKey struct{ subject, sid string }

// floorConn is one viewer socket, owned by its loop's goroutine.
type floorConn struct {
	fd      int
	key     floorKey
	idx     int    // place in its loop's group
	pending []byte // what the socket did not take
	dead    bool
}

// floorMsg is one live message from upstream.
type floorMsg struct {
	subject string
	data    []byte
}

// floorLoop is one epoll loop: its goroutine owns conns and groups; other
// goroutines hand it viewers and messages under mu and wake it through a
// pipe.
type floorLoop struct {
	epfd       int
	wake       [2]int
	maxPending int
	open       *atomic.Int64 // the floor's count, lowered when a viewer closes
	held       atomic.Int64

	mu      sync.Mutex
	adds    []*floorConn
	msgs    []floorMsg
	stopped bool
	running bool

	conns  map[int]*floorConn
	groups map[floorKey][]*floorConn
}

func newFloorLoop(maxPending int, open *atomic.Int64) (*floorLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &floorLoop{epfd: epfd, maxPending: maxPending, open: open,
		conns: map[int]*floorConn{}, groups: map[floorKey][]*floorConn{}}
	if err := syscall.Pipe2(l.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	if err := l.ctl(syscall.EPOLL_CTL_ADD, l.wake[0], syscall.EPOLLIN); err != nil {
		l.closeFDs()
		return nil, err
	}
	return l, nil
}

func (l *floorLoop) ctl(op, fd int, events uint32) error {
	return syscall.EpollCtl(l.epfd, op, fd, &syscall.EpollEvent{Events: events, Fd: int32(fd)})
}

// add hands a viewer to the loop.
func (l *floorLoop) add(c *floorConn) {
	if !l.enqueue(func() { l.adds = append(l.adds, c) }) {
		syscall.Close(c.fd)
		l.open.Add(-1)
	}
}

// post hands a message to the loop.
func (l *floorLoop) post(m floorMsg) { l.enqueue(func() { l.msgs = append(l.msgs, m) }) }

// start runs the loop in its goroutine, unless it was stopped.
func (l *floorLoop) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.running = true
		go l.run()
	}
}

// stop ends the loop, which closes every viewer on its way out; a loop
// that never ran closes its descriptors here.
func (l *floorLoop) stop() {
	l.mu.Lock()
	running, was := l.running, l.stopped
	l.stopped = true
	if running {
		syscall.Write(l.wake[1], []byte{1})
	}
	l.mu.Unlock()
	if !running && !was {
		l.closeFDs()
	}
}

// enqueue runs put under mu and wakes the loop; false once it stopped.
func (l *floorLoop) enqueue(put func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	put()
	syscall.Write(l.wake[1], []byte{1}) // a full pipe already wakes it
	return true
}

// run is the loop: viewers' readiness, and the queue when woken.
func (l *floorLoop) run() {
	defer l.closeAll()
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(l.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		woke := false
		for _, ev := range events[:n] {
			if c := l.conns[int(ev.Fd)]; c != nil {
				l.ready(c, ev.Events)
			}
			woke = woke || int(ev.Fd) == l.wake[0]
		}
		// The queue last: a descriptor it reuses gets no stale event.
		if woke && !l.drain() {
			return
		}
	}
}

// drain takes what was queued: new viewers, then messages to write.
func (l *floorLoop) drain() bool {
	var buf [64]byte
	for {
		if n, _ := syscall.Read(l.wake[0], buf[:]); n <= 0 {
			break
		}
	}
	l.mu.Lock()
	adds, msgs, stopped := l.adds, l.msgs, l.stopped
	l.adds, l.msgs = nil, nil
	l.mu.Unlock()
	for _, c := range adds {
		l.hold(c)
	}
	for _, m := range msgs {
		l.broadcast(m)
	}
	return !stopped
}

// hold registers a new viewer.
func (l *floorLoop) hold(c *floorConn) {
	if err := l.ctl(syscall.EPOLL_CTL_ADD, c.fd, syscall.EPOLLIN|syscall.EPOLLRDHUP); err != nil {
		syscall.Close(c.fd)
		l.open.Add(-1)
		return
	}
	c.idx = len(l.groups[c.key])
	l.groups[c.key] = append(l.groups[c.key], c)
	l.conns[c.fd] = c
	l.held.Add(1)
}

// broadcast writes m, framed once per subscription id, to every viewer
// subscribed to its subject.
func (l *floorLoop) broadcast(m floorMsg) {
	var dead []*floorConn
	for key, g := range l.groups {
		if key.subject != m.subject {
			continue
		}
		f := msgFrame(m, key.sid)
		for _, c := range g {
			if !l.send(c, f) {
				dead = append(dead, c)
			}
		}
	}
	for _, c := range dead {
		l.drop(c)
	}
}

// msgFrame is m as a NATS MSG for sid in one binary WebSocket frame.
func msgFrame(m floorMsg, sid string) []byte {
	b := make([]byte, 0, 32+len(m.subject)+len(sid)+len(m.data))
	b = append(append(append(append(b, "MSG "...), m.subject...), ' '), sid...)
	b = strconv.AppendInt(append(b, ' '), int64(len(m.data)), 10)
	b = append(append(append(b, "\r\n"...), m.data...), "\r\n"...)
	return wsFrame(b)
}

// send writes f to c without blocking; what the socket does not take
// waits for EPOLLOUT. False: c is to be dropped (an error, or more than
// maxPending waiting).
func (l *floorLoop) send(c *floorConn, f []byte) bool {
	if len(c.pending) > 0 {
		if len(c.pending)+len(f) > l.maxPending {
			return false
		}
		c.pending = append(c.pending, f...)
		return true
	}
	n, err := writeFD(c.fd, f)
	if err != nil && err != syscall.EAGAIN {
		return false
	}
	if n < len(f) {
		c.pending = append(c.pending[:0], f[n:]...)
		return l.ctl(syscall.EPOLL_CTL_MOD, c.fd, syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLOUT) == nil
	}
	return true
}

// writeFD is write(2), retried on EINTR; n is never negative.
func writeFD(fd int, b []byte) (int, error) {
	for {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		return max(n, 0), err
	}
}

// ready handles a viewer's readiness: input is read and dropped, a hang-up
// or an error closes it, room to write flushes what waits.
func (l *floorLoop) ready(c *floorConn, ev uint32) {
	ok := ev&(syscall.EPOLLERR|syscall.EPOLLHUP|syscall.EPOLLRDHUP) == 0
	if ok && ev&syscall.EPOLLIN != 0 {
		ok = discard(c.fd)
	}
	if ok && ev&syscall.EPOLLOUT != 0 {
		ok = l.flush(c)
	}
	if !ok {
		l.drop(c)
	}
}

// discard reads what the viewer sent; false at its end or on an error.
func discard(fd int) bool {
	var buf [4096]byte
	for {
		n, err := syscall.Read(fd, buf[:])
		switch {
		case err == syscall.EAGAIN:
			return true
		case err == syscall.EINTR:
		case err != nil || n == 0:
			return false
		}
	}
}

// flush writes what waits for c; once all is written, only input is
// watched again.
func (l *floorLoop) flush(c *floorConn) bool {
	n, err := writeFD(c.fd, c.pending)
	if err != nil && err != syscall.EAGAIN {
		return false
	}
	c.pending = c.pending[:copy(c.pending, c.pending[n:])]
	if len(c.pending) > 0 {
		return true
	}
	c.pending = nil
	return l.ctl(syscall.EPOLL_CTL_MOD, c.fd, syscall.EPOLLIN|syscall.EPOLLRDHUP) == nil
}

// drop closes c and takes it out of its group.
func (l *floorLoop) drop(c *floorConn) {
	if c.dead {
		return
	}
	c.dead = true
	g := l.groups[c.key]
	last := g[len(g)-1]
	g[c.idx], last.idx = last, c.idx
	if g = g[:len(g)-1]; len(g) == 0 {
		delete(l.groups, c.key)
	} else {
		l.groups[c.key] = g
	}
	delete(l.conns, c.fd)
	syscall.Close(c.fd) // also leaves the epoll set
	l.held.Add(-1)
	l.open.Add(-1)
}

// closeAll closes every viewer and the loop's own descriptors.
func (l *floorLoop) closeAll() {
	for _, c := range l.conns {
		l.drop(c)
	}
	l.mu.Lock()
	l.stopped = true
	adds := l.adds
	l.adds = nil
	l.mu.Unlock()
	for _, c := range adds {
		syscall.Close(c.fd)
		l.open.Add(-1)
	}
	l.closeFDs()
}

func (l *floorLoop) closeFDs() {
	syscall.Close(l.wake[0])
	syscall.Close(l.wake[1])
	syscall.Close(l.epfd)
}
