//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/wire"
)

// The floor is the least a server can do to deliver swarms to WebSocket
// viewers: the benchmark floor the viewer edge is measured against
// (scripts/edge-bench.sh, TARGETS="floor edge"). It reads the live swarms
// from one NATS connection, as the edge does, and writes each one, framed
// once per subscription, to every viewer from epoll loops (one per CPU, as
// many as the edge spreads a broadcast over) with non-blocking write(2):
// no permissions, no ring of recent swarms, no requests, no pings, no
// metrics. A viewer completes the WebSocket upgrade, sends CONNECT, SUB
// and PING (bench's raw viewer and nats.go do), gets PONG, and from then
// on only receives; what it sends later is read and dropped.

// Defaults of FloorConfig.
const (
	DefaultFloorMaxConnections = 100_000
	DefaultFloorMaxPending     = 64 << 10
	DefaultFloorHandshake      = 10 * time.Second
	// floorMaxHandshake bounds what a viewer may send before it is handed
	// to a loop: the upgrade request, CONNECT, SUB and PING.
	floorMaxHandshake = 8 << 10
)

// FloorConfig configures a Floor. Zero fields mean the defaults.
type FloorConfig struct {
	// Listener is where viewers connect (required; cmd binds it).
	Listener net.Listener
	// NATSURL is the NATS URL the swarms are read from (a leaf's client
	// port as user edge, or the hub). Required.
	NATSURL     string
	NATSOptions []nats.Option
	// Loops is the number of epoll loops. Zero means GOMAXPROCS.
	Loops int
	// MaxConnections bounds the viewers and the handshakes in progress.
	// Zero means DefaultFloorMaxConnections.
	MaxConnections int
	// MaxPending bounds the bytes waiting for one viewer; past it the viewer
	// is closed. Zero means DefaultFloorMaxPending.
	MaxPending int
	// HandshakeTimeout bounds the upgrade, CONNECT, SUB and PING. Zero
	// means DefaultFloorHandshake.
	HandshakeTimeout time.Duration
	// Logger: nil discards the logs.
	Logger *slog.Logger
}

// Floor is a running floor server: NewFloor, then Run.
type Floor struct {
	cfg   FloorConfig
	log   *slog.Logger
	loops []*floorLoop
	next  atomic.Uint32
	open  atomic.Int64 // viewers and handshakes in progress
	nc    *nats.Conn
	once  sync.Once
}

// NewFloor checks cfg, makes the loops and connects upstream.
func NewFloor(cfg FloorConfig) (*Floor, error) {
	if cfg.Listener == nil || cfg.NATSURL == "" {
		return nil, fmt.Errorf("%w: floor needs a Listener and a NATSURL", ErrConfig)
	}
	cfg.Loops = cmp.Or(cfg.Loops, runtime.GOMAXPROCS(0))
	cfg.MaxConnections = cmp.Or(cfg.MaxConnections, DefaultFloorMaxConnections)
	cfg.MaxPending = cmp.Or(cfg.MaxPending, DefaultFloorMaxPending)
	cfg.HandshakeTimeout = cmp.Or(cfg.HandshakeTimeout, DefaultFloorHandshake)
	f := &Floor{cfg: cfg, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}
	for range cfg.Loops {
		l, err := newFloorLoop(cfg.MaxPending, &f.open)
		if err != nil {
			f.closeLoops()
			return nil, fmt.Errorf("bench: floor: %w", err)
		}
		f.loops = append(f.loops, l)
	}
	nc, err := nats.Connect(cfg.NATSURL, append([]nats.Option{nats.Name("emostream floor"), nats.MaxReconnects(-1)}, cfg.NATSOptions...)...)
	if err != nil {
		f.closeLoops()
		return nil, fmt.Errorf("bench: floor: connecting upstream: %w", err)
	}
	f.nc = nc
	return f, nil
}

// URL is the WebSocket URL viewers connect to.
func (f *Floor) URL() string { return "ws://" + f.cfg.Listener.Addr().String() }

// Viewers is the number of viewers the loops hold.
func (f *Floor) Viewers() int {
	n := 0
	for _, l := range f.loops {
		n += int(l.held.Load())
	}
	return n
}

// Run subscribes upstream and serves viewers until ctx ends.
func (f *Floor) Run(ctx context.Context) error {
	defer f.Close()
	if _, err := f.nc.Subscribe(wire.LiveSubjects, recovery.Func(f.log, "floor_upstream", f.deliver)); err != nil {
		return fmt.Errorf("bench: floor: subscribing upstream: %w", err)
	}
	if err := f.nc.Flush(); err != nil {
		return fmt.Errorf("bench: floor: subscribing upstream: %w", err)
	}
	for _, l := range f.loops {
		l.start()
	}
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	for {
		conn, err := f.cfg.Listener.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bench: floor: accepting: %w", err)
		}
		if f.open.Add(1) > int64(f.cfg.MaxConnections) {
			f.open.Add(-1)
			conn.Close()
			continue
		}
		go f.handshake(conn)
	}
}

// Close stops the loops, the listener and the upstream connection.
func (f *Floor) Close() {
	f.once.Do(func() {
		f.cfg.Listener.Close()
		if f.nc != nil {
			f.nc.Close()
		}
		f.closeLoops()
	})
}

func (f *Floor) closeLoops() {
	for _, l := range f.loops {
		l.stop()
	}
}

// deliver hands one live message to every loop.
func (f *Floor) deliver(m *nats.Msg) {
	for _, l := range f.loops {
		l.post(floorMsg{subject: m.Subject, data: m.Data})
	}
}

// handshake upgrades conn, reads CONNECT, SUB and PING, and hands the
// socket to a loop; a viewer that fails any step is closed.
func (f *Floor) handshake(conn net.Conn) {
	defer recovery.Recover(f.log, "floor handshake", nil)
	key, err := f.greet(conn)
	if err != nil {
		f.open.Add(-1)
		conn.Close()
		f.log.Debug("floor: viewer refused", "component", "floor", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	fd, err := detach(conn)
	if err != nil {
		f.open.Add(-1)
		f.log.Warn("floor: detaching a viewer", "component", "floor", "err", err)
		return
	}
	f.loops[f.next.Add(1)%uint32(len(f.loops))].add(&floorConn{fd: fd, key: key})
}

// greet runs the handshake on conn and returns the viewer's subscription.
func (f *Floor) greet(conn net.Conn) (floorKey, error) {
	conn.SetDeadline(time.Now().Add(f.cfg.HandshakeTimeout))
	br := bufio.NewReaderSize(io.LimitReader(conn, floorMaxHandshake), 4096)
	if err := upgrade(conn, br); err != nil {
		return floorKey{}, err
	}
	if _, err := conn.Write(wsFrame([]byte(floorInfo))); err != nil {
		return floorKey{}, err
	}
	return readSub(conn, br)
}

// floorInfo is the INFO the floor greets viewers with.
const floorInfo = `INFO {"server_id":"floor","server_name":"floor","version":"2.15.2","proto":1,"headers":false,"max_payload":1024}` + "\r\n"

// upgrade answers a WebSocket upgrade request read from br.
func upgrade(conn net.Conn, br *bufio.Reader) error {
	req, err := http.ReadRequest(br)
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") || key == "" {
		conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
		return errors.New("not a WebSocket upgrade")
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	_, err = fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	return err
}

// readSub reads the viewer's frames until a PING after a SUB, answering
// every PING with PONG, and returns the subscription.
func readSub(conn net.Conn, br *bufio.Reader) (floorKey, error) {
	var key floorKey
	var text []byte
	for {
		payload, err := readClientFrame(br)
		if err != nil {
			return key, err
		}
		text = append(text, payload...)
		for {
			line, rest, ok := bytes.Cut(text, []byte("\r\n"))
			if !ok {
				break
			}
			text = rest
			done, err := floorLine(conn, string(line), &key)
			if done || err != nil {
				return key, err
			}
		}
	}
}

// floorLine handles one protocol line of the handshake; done once a PING
// after a SUB was answered.
func floorLine(conn net.Conn, line string, key *floorKey) (done bool, err error) {
	f := strings.Fields(line)
	switch {
	case len(f) == 0:
	case strings.EqualFold(f[0], "SUB") && (len(f) == 3 || len(f) == 4):
		if strings.ContainsAny(f[1], "*>") || !strings.HasPrefix(f[1], wire.LiveSubjects[:len(wire.LiveSubjects)-1]) {
			return false, fmt.Errorf("subject %q: the floor serves literal live subjects only", f[1])
		}
		*key = floorKey{subject: f[1], sid: f[len(f)-1]}
	case strings.EqualFold(f[0], "PING"):
		if _, err := conn.Write(wsFrame([]byte("PONG\r\n"))); err != nil {
			return false, err
		}
		return key.subject != "", nil
	}
	return false, nil
}

// readClientFrame reads one masked client frame and unmasks its payload;
// a close frame is io.EOF.
func readClientFrame(br *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1] & 0x7f)
	if h[1]&0x80 == 0 || n > 125 {
		return nil, fmt.Errorf("bad client frame header %x (want masked, under 126 bytes)", h)
	}
	if h[0]&0x0f == 0x8 {
		return nil, io.EOF
	}
	buf := make([]byte, 4+n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, err
	}
	for i := range n {
		buf[4+i] ^= buf[i%4]
	}
	return buf[4:], nil
}

// wsFrame wraps body in one unmasked binary frame.
func wsFrame(body []byte) []byte {
	n := len(body)
	hdr := []byte{0x82, byte(n)}
	switch {
	case n > 0xffff:
		hdr = []byte{0x82, 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	case n >= 126:
		hdr = []byte{0x82, 126, byte(n >> 8), byte(n)}
	}
	return append(hdr, body...)
}

// detach takes the socket out of Go's poller: a duplicate descriptor in
// non-blocking mode, the original closed (which deregisters it).
func detach(conn net.Conn) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		conn.Close()
		return 0, fmt.Errorf("%T has no descriptor", conn)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		conn.Close()
		return 0, err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) {
		// Dup and close-on-exec under ForkLock, so no child process
		// started between the two inherits the viewer's socket.
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if fd, err = syscall.Dup(int(s)); err == nil {
			syscall.CloseOnExec(fd)
		}
	})
	conn.Close()
	if err = cmp.Or(cerr, err); err != nil {
		return 0, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return 0, err
	}
	return fd, nil
}
