package edge

import (
	"bytes"
	"errors"
	"strconv"
)

// Protocol errors that end a connection; their texts are nats-server's.
var (
	errControlLine = errors.New("Maximum Control Line Exceeded")
	errPayload     = errors.New("Maximum Payload Violation")
	errUnknownOp   = errors.New("Unknown Protocol Operation")
)

// parser splits a NATS client's byte stream into operations: a control line
// and, for PUB and HPUB, the payload that follows it. Operations may span
// WebSocket messages; what waits for the rest is held in buf, bounded by
// the control-line and payload limits.
type parser struct {
	buf     []byte // a partial control line, or a PUB line and its payload so far
	lineLen int    // > 0: buf[:lineLen] is a PUB/HPUB line awaiting need bytes
	need    int    // payload size + 2 (its CRLF)
}

// handler receives one operation. line and payload are valid only during
// the call.
type handler func(line, payload []byte) error

// feed parses data, calling h for each complete operation. An error from h
// or from the protocol stops parsing; the connection should then be closed.
func (p *parser) feed(data []byte, maxLine, maxPayload int, h handler) error {
	for len(data) > 0 {
		var err error
		if p.lineLen > 0 {
			data, err = p.feedPayload(data, h)
		} else {
			data, err = p.feedLine(data, maxLine, maxPayload, h)
		}
		if err != nil {
			return err
		}
	}
	if len(p.buf) == 0 && cap(p.buf) > 0 {
		p.buf = nil // idle viewers hold no buffer
	}
	return nil
}

func (p *parser) feedLine(data []byte, maxLine, maxPayload int, h handler) ([]byte, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(p.buf)+len(data) > maxLine {
			return nil, errControlLine
		}
		p.buf = append(p.buf, data...)
		return nil, nil
	}
	line := data[:i]
	if len(p.buf) > 0 {
		p.buf = append(p.buf, line...)
		line = p.buf
	}
	data = data[i+1:]
	if len(line) > maxLine {
		return nil, errControlLine
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	n, pub, err := payloadSize(line)
	if err != nil {
		return nil, err
	}
	if !pub {
		p.buf = p.buf[:0]
		return data, h(line, nil)
	}
	if n > maxPayload {
		return nil, errPayload
	}
	if len(p.buf) == 0 {
		p.buf = append(p.buf, line...)
	}
	p.buf = p.buf[:len(line)]
	p.lineLen, p.need = len(line), n+2
	return data, nil
}

func (p *parser) feedPayload(data []byte, h handler) ([]byte, error) {
	take := min(p.lineLen+p.need-len(p.buf), len(data))
	p.buf = append(p.buf, data[:take]...)
	data = data[take:]
	if len(p.buf) < p.lineLen+p.need {
		return data, nil
	}
	if !bytes.HasSuffix(p.buf, []byte("\r\n")) {
		return nil, errUnknownOp
	}
	line, payload := p.buf[:p.lineLen], p.buf[p.lineLen:len(p.buf)-2]
	p.buf, p.lineLen, p.need = p.buf[:0], 0, 0
	return data, h(line, payload)
}

// payloadSize returns the payload size a PUB or HPUB line announces (its
// last argument), and whether line is one.
func payloadSize(line []byte) (int, bool, error) {
	verb, args := splitVerb(line)
	if !bytes.EqualFold(verb, []byte("PUB")) && !bytes.EqualFold(verb, []byte("HPUB")) {
		return 0, false, nil
	}
	f := bytes.Fields(args)
	if len(f) < 2 {
		return 0, true, errUnknownOp
	}
	n, err := strconv.Atoi(string(f[len(f)-1]))
	if err != nil || n < 0 {
		return 0, true, errUnknownOp
	}
	return n, true, nil
}

// splitVerb splits a control line at its first space or tab.
func splitVerb(line []byte) (verb, args []byte) {
	i := bytes.IndexAny(line, " \t")
	if i < 0 {
		return line, nil
	}
	return line[:i], bytes.TrimLeft(line[i:], " \t")
}
