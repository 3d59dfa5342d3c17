package edge

import (
	"encoding/binary"
	"strconv"
)

// wsBinary starts a final binary WebSocket frame (server frames are not
// masked).
const wsBinary = 0x82

// frame wraps body in one binary WebSocket frame.
func frame(body []byte) []byte {
	n := len(body)
	var hdr []byte
	switch {
	case n < 126:
		hdr = []byte{wsBinary, byte(n)}
	case n <= 0xffff:
		hdr = []byte{wsBinary, 126, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
	default:
		hdr = make([]byte, 10)
		hdr[0], hdr[1] = wsBinary, 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	out := make([]byte, 0, len(hdr)+n)
	return append(append(out, hdr...), body...)
}

// message is one message as the edge delivers it: a subject, NATS headers
// (a full header block "NATS/1.0…\r\n\r\n", or nil) and data.
type message struct {
	subject string
	header  []byte
	data    []byte
}

// encode returns m as MSG (or HMSG when the client takes headers and m has
// some) for subscription sid, framed for the WebSocket.
func (m *message) encode(sid string, headers bool) []byte {
	hmsg := headers && m.header != nil
	b := make([]byte, 0, 48+len(m.subject)+len(sid)+len(m.header)+len(m.data))
	if hmsg {
		b = append(b, 'H')
	}
	b = append(append(append(append(b, "MSG "...), m.subject...), ' '), sid...)
	if hmsg {
		b = strconv.AppendInt(append(b, ' '), int64(len(m.header)), 10)
		b = strconv.AppendInt(append(b, ' '), int64(len(m.header)+len(m.data)), 10)
		b = append(append(b, "\r\n"...), m.header...)
	} else {
		b = strconv.AppendInt(append(b, ' '), int64(len(m.data)), 10)
		b = append(b, "\r\n"...)
	}
	return frame(append(append(b, m.data...), "\r\n"...))
}

// liveHeader is the header block of a live swarm: its stream sequence
// and, if hasLast, its Nats-Last-Sequence, which the viewers' gap rule
// reads (docs/api.md, "Gap rule"). Built once per live message.
func liveHeader(seq, last uint64, hasLast bool) []byte {
	b := []byte("NATS/1.0\r\nNats-Sequence: ")
	b = strconv.AppendUint(b, seq, 10)
	if hasLast {
		b = strconv.AppendUint(append(b, "\r\nNats-Last-Sequence: "...), last, 10)
	}
	return append(b, "\r\n\r\n"...)
}

// statusHeader is the header block of a status reply, e.g. 404.
func statusHeader(code int, text string) []byte {
	return []byte("NATS/1.0 " + strconv.Itoa(code) + " " + text + "\r\n\r\n")
}

// Control frames the edge writes.
var (
	framePing = frame([]byte("PING\r\n"))
	framePong = frame([]byte("PONG\r\n"))
	frameOK   = frame([]byte("+OK\r\n"))
)

// errFrame is -ERR 'text'.
func errFrame(text string) []byte { return frame([]byte("-ERR '" + text + "'\r\n")) }
