package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emostream/emostream/wire"
)

// Errors that end a connection, with nats-server's texts.
var (
	errAuthorization = errors.New("Authorization Violation")
	errStale         = errors.New("Stale Connection")
	errAuthTimeout   = errors.New("Authentication Timeout")
)

// Texts of errors that leave the connection open.
const (
	textMaxSubs        = "Maximum Subscriptions Exceeded"
	textInvalidSubj    = "Invalid Subject"
	textInvalidSid     = "Invalid Subscription ID"
	textPubViolation   = "Permissions Violation for Publish to %q"
	textReplyViolation = "Permissions Violation for Publish with Reply of %q"
	textSubViolation   = "Permissions Violation for Subscription to %q"
	textQueueViolation = "Permissions Violation for Subscription to %q using queue %q"
)

// maxSid bounds a subscription id.
const maxSid = 32

// maxRequests bounds one viewer's requests waiting for an answer, so that
// one connection cannot hold every upstream slot.
const maxRequests = 4

// session is one viewer connection. Its fields but conn are guarded by mu;
// the upstream side writes to conn directly (nbio's writes are safe for
// concurrent use and keep each frame whole).
type session struct {
	e        *Edge
	conn     net.Conn
	closer   func()
	prefix   string
	born     time.Time
	pingsOut atomic.Int32
	failed   atomic.Bool  // closed by the edge, counted by fail
	released atomic.Bool  // counted out of the edge's connections
	requests atomic.Int32 // requests waiting for their answer

	mu        sync.Mutex
	p         parser
	subs      []*sub
	connected bool
	headers   bool
	verbose   bool
	closed    bool
	armed     bool // the read deadline was set after the accept's
}

// write writes one frame without blocking: what the socket does not take
// waits in nbio's buffer, and past MaxPending bytes nbio closes the
// connection (counted as a slow consumer in closed).
func (s *session) write(f []byte) { _, _ = s.conn.Write(f) }

// writeDeadlined is write with the write deadline: if the frame still waits
// after WriteTimeout, nbio closes the connection (a slow consumer). The
// keepalive sweep sends its PINGs so, which bounds a stalled viewer's life
// to PingInterval + WriteTimeout without a timer per broadcast write.
func (s *session) writeDeadlined(f []byte) {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.e.cfg.WriteTimeout))
	_, _ = s.conn.Write(f)
}

// fail writes -ERR and closes the connection.
func (s *session) fail(err error, reason string) {
	if s.failed.Swap(true) {
		return
	}
	s.e.m.closed.WithLabelValues(reason).Inc()
	s.writeDeadlined(errFrame(err.Error()))
	s.closer()
}

// input parses a WebSocket message of protocol bytes.
func (s *session) input(data []byte) {
	if err := s.feed(data); err != nil {
		s.fail(err, "protocol")
	}
}

func (s *session) feed(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock() // also after a panic: the connection's close takes mu
	s.e.testHook(panicViewer, data)
	return s.p.feed(data, s.e.cfg.MaxControlLine, s.e.cfg.MaxPayload, s.handle)
}

// handle runs one operation; called with mu held.
func (s *session) handle(line, payload []byte) error {
	verb, args := splitVerb(line)
	switch strings.ToUpper(string(verb)) {
	case "CONNECT":
		return s.connect(args)
	case "PING":
		s.write(framePong)
		return nil
	case "PONG":
		s.pingsOut.Store(0)
		return nil
	}
	if !s.connected {
		return errAuthorization
	}
	switch strings.ToUpper(string(verb)) {
	case "SUB":
		s.sub(bytes.Fields(args))
	case "UNSUB":
		s.unsub(bytes.Fields(args))
	case "PUB":
		s.pub(bytes.Fields(args), nil, payload)
	case "HPUB":
		f := bytes.Fields(args)
		if len(f) < 3 {
			return errUnknownOp
		}
		hdr, err := strconv.Atoi(string(f[len(f)-2]))
		if err != nil || hdr < 0 || hdr > len(payload) {
			return errUnknownOp
		}
		s.pub(f[:len(f)-1], payload[:hdr], payload[hdr:])
	default:
		return errUnknownOp
	}
	return nil
}

// connectOptions are the CONNECT fields the edge reads.
type connectOptions struct {
	Verbose bool `json:"verbose"`
	Headers bool `json:"headers"`
}

func (s *session) connect(args []byte) error {
	var o connectOptions
	if err := json.Unmarshal(args, &o); err != nil {
		return errUnknownOp
	}
	s.connected, s.headers, s.verbose = true, o.Headers, o.Verbose
	s.rearm()
	s.ok()
	return nil
}

// rearm sets the read deadline of a viewer: nbio's accept sets the
// handshake's (ConnectTimeout) from another goroutine, which may land after
// the upgrade set the viewer's, so it is set again after CONNECT and once
// more by the keepalive sweep.
func (s *session) rearm() {
	_ = s.conn.SetReadDeadline(time.Now().Add(s.e.readTimeout()))
}

func (s *session) ok() {
	if s.verbose {
		s.write(frameOK)
	}
}

// errText writes an -ERR that leaves the connection open.
func (s *session) errText(format string, args ...any) {
	s.write(errFrame(fmt.Sprintf(format, args...)))
}

func (s *session) sub(f [][]byte) {
	if len(f) < 2 || len(f) > 3 {
		s.errText(textInvalidSubj)
		return
	}
	subject, sid := string(f[0]), string(f[len(f)-1])
	if len(sid) > maxSid {
		s.errText(textInvalidSid)
		return
	}
	if len(f) == 3 {
		s.violation("subscribe", textQueueViolation, subject, string(f[1]))
		return
	}
	if s.find(sid) != nil {
		s.ok() // nats-server ignores a repeated sid
		return
	}
	if len(s.subs) >= s.e.cfg.MaxSubscriptions {
		s.errText(textMaxSubs)
		return
	}
	id, kind := classifySub(subject)
	if kind == subRefused {
		s.violation("subscribe", textSubViolation, subject)
		return
	}
	sb := &sub{s: s, sid: sid, subject: subject}
	if kind == subLive {
		if err := s.e.join(sb, id, !s.watches(id)); err != nil {
			s.errText(textMaxSubs)
			return
		}
	}
	s.subs = append(s.subs, sb)
	s.e.m.subs.Inc()
	s.ok()
}

func (s *session) violation(op, format string, args ...any) {
	s.e.m.violations.WithLabelValues(op).Inc()
	s.errText(format, args...)
}

// Kinds of subscription.
const (
	subRefused = iota
	subLive    // a match's live subject, or the wildcard
	subInbox   // the viewer's own reply inbox
)

// classifySub tells what a viewer may subscribe to: a match's live subject
// (id is the match, or wildcard), or an inbox _INBOX.<token>[.…] whose first
// token is literal (replies reach only the connection that asked anyway).
func classifySub(subject string) (id string, kind int) {
	if subject == wire.LiveSubjects {
		return wildcard, subLive
	}
	if m, ok := strings.CutPrefix(subject, wire.LiveSubject("")); ok && wire.ValidMatchID(m) {
		return m, subLive
	}
	rest, ok := strings.CutPrefix(subject, "_INBOX.")
	if !ok || len(subject) > 256 {
		return "", subRefused
	}
	tokens := strings.Split(rest, ".")
	if tokens[0] == "*" || tokens[0] == ">" {
		return "", subRefused
	}
	for i, t := range tokens {
		if t == "" || strings.ContainsAny(t, " \t\r\n") || (t == ">" && i != len(tokens)-1) ||
			(strings.ContainsAny(t, "*>") && len(t) > 1) {
			return "", subRefused
		}
	}
	return "", subInbox
}

// watches reports whether the connection has a subscription to match id
// (or the wildcard, for id wildcard). Called with mu held.
func (s *session) watches(id string) bool {
	for _, sb := range s.subs {
		if sb.m != nil && sb.m.id == id {
			return true
		}
	}
	return false
}

func (s *session) find(sid string) *sub {
	for _, sb := range s.subs {
		if sb.sid == sid {
			return sb
		}
	}
	return nil
}

func (s *session) unsub(f [][]byte) {
	if len(f) < 1 || len(f) > 2 {
		s.errText(textInvalidSid)
		return
	}
	sb := s.find(string(f[0]))
	if sb == nil {
		s.ok()
		return
	}
	if len(f) == 2 {
		if n, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil && n > sb.got {
			sb.left.Store(n - sb.got)
			s.ok()
			return
		}
	}
	s.remove(sb)
	s.ok()
}

// drop removes sb, whose auto-unsubscribe count ran out, unless it is
// gone already.
func (s *session) drop(sb *sub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.subs, sb) {
		s.remove(sb)
	}
}

// remove drops sb; called with mu held.
func (s *session) remove(sb *sub) {
	for i, x := range s.subs {
		if x == sb {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			break
		}
	}
	s.e.m.subs.Dec()
	if sb.m != nil {
		s.e.leave(sb, !s.watches(sb.m.id))
	}
}

// pub handles a publish: only the two swarm requests, replied to the
// viewer's own inbox.
func (s *session) pub(f [][]byte, _, body []byte) {
	if len(f) < 2 || len(f) > 3 {
		s.errText(textInvalidSubj)
		return
	}
	subject := string(f[0])
	reply := ""
	if len(f) == 3 {
		reply = string(f[1])
	}
	var match string
	var seq uint64
	next := subject == wire.SwarmsGet
	if next {
		var ok bool
		if match, seq, ok = parseNext(body); !ok {
			s.violation("publish", textPubViolation, subject)
			return
		}
	} else if m, ok := strings.CutPrefix(subject, wire.LatestSwarmRequest("")); !ok || !wire.ValidMatchID(m) {
		s.violation("publish", textPubViolation, subject)
		return
	} else {
		match = m
	}
	inbox := s.inboxFor(reply)
	if inbox == nil {
		s.violation("publish", textReplyViolation, reply)
		return
	}
	s.ok()
	s.request(inbox, reply, match, next, seq)
}

// request asks for match's latest swarm, or if next its next one from seq,
// and answers it to inbox, the subscription of reply. Called with mu held.
func (s *session) request(inbox *sub, reply, match string, next bool, seq uint64) {
	headers := s.headers
	if s.requests.Add(1) > maxRequests {
		s.requests.Add(-1)
		s.e.m.requests.WithLabelValues(map[bool]string{true: "next", false: "latest"}[next], "busy").Inc()
		s.answer(inbox, replyTo(reply, match, nil, errBusy).encode(inbox.sid, headers), true)
		return
	}
	done := func(st *stored, err error) {
		s.answer(inbox, replyTo(reply, match, st, err).encode(inbox.sid, headers), false)
		s.requests.Add(-1)
	}
	var st *stored
	var now bool
	var err error
	if next {
		st, now, err = s.e.next(match, seq, done)
	} else {
		st, now, err = s.e.latest(match, done)
	}
	if now {
		s.requests.Add(-1)
		s.answer(inbox, replyTo(reply, match, st, err).encode(inbox.sid, headers), true)
	}
}

// answer writes the frame f of a request's answer for subscription inbox,
// unless the viewer unsubscribed it meanwhile. As nats-server, it counts
// the answer against the subscription's auto-unsubscribe limit (UNSUB
// <sid> <max>) and in the messages it got since its SUB, which such a
// limit counts from: the last one removes the subscription, and none is
// written past it. locked says mu is held.
func (s *session) answer(inbox *sub, f []byte, locked bool) {
	if !locked {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if !slices.Contains(s.subs, inbox) {
		return
	}
	deliver, last := inbox.take()
	if !deliver {
		return
	}
	inbox.got++
	s.write(f)
	if last {
		s.remove(inbox)
	}
}

// inboxFor finds the inbox subscription that reply lands in; nil if none.
func (s *session) inboxFor(reply string) *sub {
	if reply == "" {
		return nil
	}
	for _, sb := range s.subs {
		if sb.m == nil && subjectMatches(sb.subject, reply) {
			return sb
		}
	}
	return nil
}

// subjectMatches reports whether literal subject lies in pattern.
func subjectMatches(pattern, subject string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) || st[i] == "" || strings.ContainsAny(st[i], "*>") {
			return false
		}
	}
	return len(st) == len(pt)
}

// close releases the session's subscriptions.
func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for len(s.subs) > 0 {
		s.remove(s.subs[len(s.subs)-1])
	}
	s.p = parser{}
}
