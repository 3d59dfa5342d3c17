package ingest

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/emostream/emostream/wire"
)

// errorBody is every error response: {"error":{"code","message","index"}},
// index only when the error is about one event of the request.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Index   *int   `json:"index,omitempty"`
}

// fail writes the JSON error of code (wire.ClientErrors gives its status)
// and counts it. It returns nil: the response is complete.
func (s *Server) fail(c *fiber.Ctx, code, msg string, index int) error {
	return s.failStatus(c, wire.HTTPStatus(code), code, msg, index)
}

// failStatus is fail with another status than the code's: fiber's own
// refusals of malformed HTTP keep their status.
func (s *Server) failStatus(c *fiber.Ctx, status int, code, msg string, index int) error {
	s.m.reject(code)
	d := errorDetail{Code: code, Message: msg}
	if index >= 0 {
		d.Index = &index
	}
	b, err := json.Marshal(errorBody{Error: d})
	if err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// httpError is a refusal of POST /v1/emojis, written by postEmojis with
// code's status.
type httpError struct {
	code, msg  string
	index      int
	retryAfter int // seconds; 0 means no Retry-After header
}

func (e *httpError) write(s *Server, c *fiber.Ctx) error {
	if e.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.retryAfter))
	}
	return s.fail(c, e.code, e.msg, e.index)
}

func (e *httpError) Error() string { return e.code + ": " + e.msg }

// badRequest is a decoder error: every code of the decoder is a 400. A
// refused body coding comes as the *httpError to send.
func badRequest(err error) *httpError {
	if he := (*httpError)(nil); errors.As(err, &he) {
		return he
	}
	var re *wire.RequestError
	if !errors.As(err, &re) {
		return &httpError{code: wire.CodeBadJSON, msg: err.Error(), index: -1}
	}
	return &httpError{code: re.Code, msg: re.Message, index: re.Index}
}

// errorHandler turns fiber's and fasthttp's errors (oversized body, unknown
// route, malformed HTTP) into the JSON error.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	status, msg := fiber.StatusInternalServerError, "internal error"
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status, msg = fe.Code, fe.Message
	}
	code := wire.CodeInternal
	switch {
	case status == fiber.StatusRequestEntityTooLarge:
		code, msg = wire.CodeBodyTooLarge, "request body is larger than "+strconv.Itoa(s.cfg.BodyLimit)+" bytes"
	case status == fiber.StatusNotFound:
		code = wire.CodeNotFound
	case status == fiber.StatusForbidden: // the page's files: a folder, which has nothing to serve
		status, code, msg = fiber.StatusNotFound, wire.CodeNotFound, "no such path: "+c.Path()
	case status == fiber.StatusMethodNotAllowed:
		code = wire.CodeMethodNotAllowed
	case status >= 400 && status < 500:
		code = wire.CodeBadJSON
	default:
		s.cfg.Logger.Error("request failed", "path", c.Path(), "err", err)
	}
	return s.failStatus(c, status, code, msg, -1)
}
