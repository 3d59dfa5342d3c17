package ingest

import (
	"bytes"
	"errors"
	"math"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/emostream/emostream/internal/clientip"
	"github.com/emostream/emostream/wire"
)

// postEmojis is POST /v1/emojis: decode, rate-limit, produce, answer.
func (s *Server) postEmojis(c *fiber.Ctx) error {
	sub, herr := s.authenticate(c) // before the body is read: a refused request costs little
	if herr != nil {
		return herr.write(s, c)
	}
	if !isJSON(c.Request().Header.ContentType()) {
		return s.fail(c, wire.CodeUnsupportedMedia,
			"Content-Type must be application/json", -1)
	}
	now := s.cfg.Now()
	n, herr := s.accept(c, now, sub)
	if herr != nil {
		return herr.write(s, c)
	}
	s.m.accepted.Add(float64(n))
	s.m.requestEvents.Observe(float64(n))
	return s.accepted(c, n, wire.WindowStart(now.UnixMilli(), s.cfg.Window.Milliseconds()))
}

// accept decodes, limits and produces the request's events of user sub
// (the token's subject, "" when tokens are off); it returns their count,
// or why none of them was accepted.
func (s *Server) accept(c *fiber.Ctx, now time.Time, sub string) (int, *httpError) {
	r := acquireRequest()
	var err error
	if r.events, err = s.decode(c, r.events); err != nil {
		releaseRequest(r)
		return 0, badRequest(err)
	}
	if rerr := wire.CheckVideoTS(r.events, now.UnixMilli()); rerr != nil {
		releaseRequest(r)
		return 0, badRequest(rerr)
	}
	if herr := bindUser(r, sub); herr != nil {
		releaseRequest(r)
		return 0, herr
	}
	// The limits come before the match check: a request refused for its
	// match still spends its tokens, so refusals cannot be had for free.
	ip := s.clientIP(c)
	if herr := s.lim.allow(ip, r, now); herr != nil {
		releaseRequest(r)
		return 0, herr
	}
	if herr := s.admit(r); herr != nil {
		if herr.code == wire.CodeRegistryUnavailable {
			s.lim.giveBack(ip, r) // not the client's doing
		}
		releaseRequest(r)
		return 0, herr
	}
	if s.cfg.Ack == AckBuffered {
		if err := s.prod.ready(); err != nil {
			s.lim.giveBack(ip, r)
			releaseRequest(r)
			return 0, s.unavailable(err)
		}
	}
	n := len(r.events)
	r.encode(now.UnixMilli())
	if err := s.produce(r); err != nil {
		s.lim.giveBack(ip, r) // nothing was stored: the retry must not find the tokens spent
		releaseRequest(r)
		return 0, s.unavailable(err)
	}
	return n, nil
}

// produce hands r to the producer and, in AckAll mode, waits for Kafka. On
// success r is released (or left to the producer, which releases it in
// AckBuffered mode); on an error it is still the caller's.
func (s *Server) produce(r *request) error {
	r.wait = s.cfg.Ack == AckAll
	if err := s.prod.submit(r); err != nil {
		return err
	}
	if !r.wait {
		return nil
	}
	if err := <-r.done; err != nil {
		return err
	}
	releaseRequest(r)
	return nil
}

// accepted writes 202 {"accepted":n,"windows":[w]}. All events of a request
// share its receive time, so they fall in one window.
func (s *Server) accepted(c *fiber.Ctx, n int, window int64) error {
	var a [64]byte
	b := append(a[:0], `{"accepted":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"windows":[`...)
	b = strconv.AppendInt(b, window, 10)
	b = append(b, "]}"...)
	c.Status(fiber.StatusAccepted)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// clientIP is the address the per-IP limit charges.
func (s *Server) clientIP(c *fiber.Ctx) netip.Addr {
	peer := tcpPeer(c)
	if len(s.cfg.TrustedProxies) == 0 {
		return peer.Unmap()
	}
	return clientip.Of(peer, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor), s.cfg.TrustedProxies)
}

// tcpPeer is the address of c's TCP peer; zero for another kind.
func tcpPeer(c *fiber.Ctx) netip.Addr {
	var peer netip.Addr
	if a, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		peer = a.AddrPort().Addr()
	}
	return peer
}

var (
	mimeJSON = []byte("application/json")
	charset  = []byte("charset")
	utf8Name = []byte("utf-8")
)

// isJSON reports whether ct is application/json, with parameters allowed
// but a charset, if given, only utf-8.
func isJSON(ct []byte) bool {
	mt, params, _ := bytes.Cut(ct, []byte{';'})
	if !bytes.EqualFold(bytes.TrimSpace(mt), mimeJSON) {
		return false
	}
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte{';'})
		k, v, _ := bytes.Cut(p, []byte{'='})
		v = bytes.Trim(bytes.TrimSpace(v), `"`)
		if bytes.EqualFold(bytes.TrimSpace(k), charset) && !bytes.EqualFold(v, utf8Name) {
			return false
		}
	}
	return true
}

func (s *Server) sendJSON(body func() []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body())
	}
}

func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.SendString(`{"status":"ok"}`)
}

// readyz answers 200 while Kafka answered recently, else 503.
func (s *Server) readyz(c *fiber.Ctx) error {
	if err := s.prod.ready(); err != nil {
		return s.fail(c, wire.CodeKafkaUnavailable, err.Error(), -1)
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			return s.fail(c, wire.CodeStageFailing, err.Error(), -1)
		}
	}
	if r, ok := s.cfg.Matches.(interface{ Ready() error }); ok {
		if err := r.Ready(); err != nil {
			return s.fail(c, wire.CodeRegistryUnavailable, err.Error(), -1)
		}
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.SendString(`{"status":"ready"}`)
}

func (s *Server) methodNotAllowed(allow string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allow)
		return s.fail(c, wire.CodeMethodNotAllowed,
			c.Method()+" is not allowed on "+c.Path()+"; allowed: "+allow, -1)
	}
}

// rateLimited is the 429 for events of who that could pass after wait.
// (More events than the burst never pass: limits.overBurst refuses them.)
func rateLimited(wait time.Duration, who string) *httpError {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	msg := "too many events from " + who + ": retry after " + strconv.Itoa(secs) + " s"
	return &httpError{code: wire.CodeRateLimited, msg: msg, index: -1, retryAfter: secs}
}

func (s *Server) unavailable(err error) *httpError {
	s.cfg.Logger.Debug("refusing request", "err", err)
	// A produce that timed out may still have been written by the broker:
	// only a request that never reached Kafka is surely not stored.
	msg := "kafka did not acknowledge this request (down or timed out), so it may or may not be stored: " +
		"retry it with the same event_id values to have each event counted once"
	if errors.Is(err, ErrBusy) {
		msg = "the producer is overloaded; nothing of this request was stored, retry later"
	}
	return &httpError{code: wire.CodeKafkaUnavailable, msg: msg, index: -1, retryAfter: 1}
}
