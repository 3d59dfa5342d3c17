package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// The raw viewer is a minimal NATS-over-WebSocket subscriber (CONNECT, SUB,
// PONG and nothing else), so one process can hold the hundreds of
// thousands of viewers the fan-out benchmark needs (HoldViewers); the
// pipeline benchmark's viewers are nats.go clients (viewers.go).

// dialRawViewers opens n viewers, n/len(urls) per URL, at most par at a time.
func dialRawViewers(ctx context.Context, urls []string, n, par int, subject string) ([]*rawViewer, error) {
	conns := make([]*rawViewer, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for i := range n {
		g.Go(func() (err error) {
			conns[i], err = dialRawViewer(ctx, urls[i%len(urls)], subject)
			return err
		})
	}
	err := g.Wait()
	return slices.DeleteFunc(conns, func(c *rawViewer) bool { return c == nil }), err
}

// rawViewer is one raw NATS-over-WebSocket subscriber.
type rawViewer struct {
	conn    net.Conn
	br      *bufio.Reader
	wmu     sync.Mutex
	pending []byte // NATS protocol bytes not parsed yet
}

func (v *rawViewer) Close() error { return v.conn.Close() }

// dialRawViewer upgrades a TCP connection to WebSocket, subscribes and waits
// for the server's PONG, which proves the subscription is registered.
func dialRawViewer(ctx context.Context, wsURL, subject string) (*rawViewer, error) {
	hostport := strings.TrimPrefix(wsURL, "ws://")
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	v := &rawViewer{conn: conn, br: bufio.NewReaderSize(conn, 1024)}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := v.handshake(hostport); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", wsURL, err)
	}
	v.write("CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"name\":\"bench\"}\r\nSUB " + subject + " 1\r\nPING\r\n")
	for {
		msgs, pong, err := v.next()
		if err != nil || len(msgs) > 0 {
			conn.Close()
			return nil, fmt.Errorf("%s: subscribing: %v", wsURL, err)
		}
		if pong {
			break
		}
	}
	conn.SetDeadline(time.Time{})
	return v, nil
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func (v *rawViewer) handshake(host string) error {
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(v.conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(v.br, req)
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	resp.Body.Close()
	sum := sha1.Sum([]byte(key + wsGUID))
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return fmt.Errorf("upgrade refused: %s", resp.Status)
	}
	return nil
}

// write sends payload as one masked binary frame.
func (v *rawViewer) write(payload string) { v.frame(0x2, []byte(payload)) }

func (v *rawViewer) frame(op byte, payload []byte) {
	var mask [4]byte
	rand.Read(mask[:])
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = binary.BigEndian.AppendUint64(append(hdr, 0x80|127), uint64(n))
	}
	buf := append(append(hdr, mask[:]...), payload...)
	for i := range payload {
		buf[len(hdr)+4+i] ^= mask[i%4]
	}
	v.wmu.Lock()
	v.conn.Write(buf)
	v.wmu.Unlock()
}

// run reads until the connection closes, recording benchmark swarms.
func (v *rawViewer) run(rec *receiptLog) {
	for {
		msgs, _, err := v.next()
		if err != nil {
			return
		}
		now := time.Now()
		for _, m := range msgs {
			if seq, sent, ok := swarmStamp(m); ok {
				rec.add(seq, now.Sub(sent))
			}
		}
	}
}

// next reads one WebSocket frame and returns the NATS message payloads it
// completed and whether a PONG came. It answers PINGs at both levels.
func (v *rawViewer) next() (msgs [][]byte, pong bool, err error) {
	op, payload, err := v.readFrame()
	if err != nil {
		return nil, false, err
	}
	switch op {
	case 0x8:
		return nil, false, io.EOF
	case 0x9:
		v.frame(0xA, payload)
		return nil, false, nil
	case 0x0, 0x1, 0x2:
		v.pending = append(v.pending, payload...)
		return v.parse()
	}
	return nil, false, nil
}

func (v *rawViewer) readFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(v.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(v.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(v.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	if err != nil || n > 8<<20 || h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("bad frame header (len %d, masked %v): %v", n, h[1]&0x80 != 0, err)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(v.br, payload)
	return h[0] & 0x0f, payload, err
}

// parse consumes complete NATS protocol lines and messages from pending.
func (v *rawViewer) parse() (msgs [][]byte, pong bool, err error) {
	p := v.pending
	for {
		i := bytes.Index(p, []byte("\r\n"))
		if i < 0 {
			break
		}
		line := p[:i]
		switch {
		case bytes.HasPrefix(line, []byte("MSG ")):
			f := bytes.Fields(line)
			size, err := strconv.Atoi(string(f[len(f)-1]))
			if err != nil {
				return nil, false, fmt.Errorf("bad MSG line %q", line)
			}
			if len(p) < i+2+size+2 {
				v.pending = append(v.pending[:0], p...)
				return msgs, pong, nil
			}
			msgs = append(msgs, p[i+2:i+2+size])
			p = p[i+2+size+2:]
			continue
		case bytes.Equal(line, []byte("PING")):
			v.write("PONG\r\n")
		case bytes.Equal(line, []byte("PONG")):
			pong = true
		case bytes.HasPrefix(line, []byte("-ERR")):
			return nil, false, fmt.Errorf("server: %s", line)
		}
		p = p[i+2:]
	}
	// msgs alias pending's old bytes, so start a fresh buffer.
	v.pending = append([]byte(nil), p...)
	return msgs, pong, nil
}
