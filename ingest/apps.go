package ingest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/wire"
)

// Every fiber app of ingest is built by newFiber, and every streamed answer
// is written through stream, so each surface added later inherits their
// rules: a panic fails only its request (internal/recovery), a body larger
// than the app's limit is refused before a 100 Continue invites it, and an
// error is the JSON error of the code table.

// The components of emostream_panics_total in ingest.
const (
	panicAPI    = "ingest_api"    // a handler of the public API
	panicOps    = "ingest_ops"    // a handler of the ops listener (metrics, health, admin API)
	panicStream = "ingest_stream" // a streamed answer (the timeline)
)

// newFiber builds a fiber app with cfg's limits (BodyLimit and timeouts)
// and ingest's error handler, recovering panics as component.
func (s *Server) newFiber(component string, cfg fiber.Config) *fiber.App {
	cfg.DisableStartupMessage, cfg.DisableDefaultDate, cfg.ErrorHandler = true, true, s.errorHandler
	cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout = s.cfg.ReadTimeout, s.cfg.WriteTimeout, s.cfg.IdleTimeout
	app := fiber.New(cfg)
	srv := app.Server()
	srv.ExpectHandler = s.expectContinue(cfg.BodyLimit)
	srv.Handler = s.knownMethods(srv.Handler)
	app.Use(s.recoverPanics(component))
	return app
}

// knownMethods answers a method fiber does not know (which it would
// answer 400 "Invalid http method", in plain text, past every handler)
// 405 method_not_allowed.
func (s *Server) knownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if knownMethod(ctx.Method()) {
			next(ctx)
			return
		}
		s.m.reject(wire.CodeMethodNotAllowed)
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType(fiber.MIMEApplicationJSON)
		ctx.SetBodyString(`{"error":{"code":"` + wire.CodeMethodNotAllowed + `","message":"unknown method"}}`)
	}
}

// knownMethod reports whether m is one of fiber.DefaultMethods (a switch:
// no allocation on the hot path).
func knownMethod(m []byte) bool {
	switch string(m) {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete,
		fiber.MethodConnect, fiber.MethodOptions, fiber.MethodTrace, fiber.MethodPatch:
		return true
	}
	return false
}

// recoverPanics is every app's first handler: a panic in a later one is
// logged with its stack, counted, and answered 500 internal.
func (s *Server) recoverPanics(component string) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer recovery.Recover(s.cfg.Logger, component, func() {
			c.Response().ResetBody() // also drops a body stream set before the panic
			err = s.fail(c, wire.CodeInternal, "internal error", -1)
		})
		return c.Next()
	}
}

// expectContinue answers a request with "Expect: 100-continue" whose
// Content-Length passes limit 413 body_too_large at once, before any
// 100 Continue asks the client to send the body.
func (s *Server) expectContinue(limit int) func(*fasthttp.RequestCtx) int {
	if limit <= 0 {
		limit = fiber.DefaultBodyLimit
	}
	return func(ctx *fasthttp.RequestCtx) int {
		if ctx.Request.Header.ContentLength() <= limit {
			return fasthttp.StatusContinue
		}
		// fasthttp sends this response without calling a handler, and
		// closes the connection (the client may be sending the body).
		s.m.reject(wire.CodeBodyTooLarge)
		ctx.Response.Header.SetContentType(fiber.MIMEApplicationJSON)
		ctx.Response.SetBodyString(`{"error":{"code":"` + wire.CodeBodyTooLarge + `","message":"request body is larger than ` +
			strconv.Itoa(limit) + ` bytes"}}`)
		return fasthttp.StatusRequestEntityTooLarge
	}
}

// errStreamPanic cuts a streamed answer whose writer panicked.
var errStreamPanic = errors.New("ingest: the answer's writer failed")

// stream sets c's answer to what write writes, run in a goroutine of its
// own once the handler returned: the headers at once, then the body as it
// is written, in chunks of size. An error or a panic in write (logged and
// counted) cuts the answer: the connection closes without the chunked
// body's end, so the client sees it incomplete. ctx ends when the client
// goes away.
func (s *Server) stream(c *fiber.Ctx, size int, write func(ctx context.Context, w *bufio.Writer) error) {
	pr, pw := io.Pipe()
	c.Context().SetBodyStream(pr, -1)
	c.Response().ImmediateHeaderFlush = true
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		w := bufio.NewWriterSize(&cancelOnError{pw, cancel}, size)
		defer recovery.Recover(s.cfg.Logger, panicStream, func() { pw.CloseWithError(errStreamPanic) })
		err := write(ctx, w)
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		pw.CloseWithError(err) // nil: the answer's end
	}()
}

// cancelOnError ends a stream's context when the client stops reading
// (fasthttp closes the pipe's reader).
type cancelOnError struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (c *cancelOnError) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if err != nil {
		c.cancel()
	}
	return n, err
}
