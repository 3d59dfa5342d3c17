package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/wire"
)

// Request bodies. fasthttp reads at most BodyLimit bytes of a body as sent
// (413 past that, before the handler runs). Ingest never calls fiber's
// Ctx.Body, which inflates gzip, deflate and brotli bodies, even stacked,
// without any bound: body reads the raw bytes, and inflates a gzip body
// itself, as a stream, into a buffer that stops at BodyLimit bytes. So a
// request holds at most 2 × BodyLimit of body bytes (sent and inflated)
// plus one inflater (~45 KiB), and at most maxInflating requests inflate at
// once.

var (
	errGzipOff      = errors.New("Content-Encoding gzip is not accepted by this server (see --accept-gzip); send the body uncompressed")
	errCodingLayers = errors.New("only one Content-Encoding is accepted (gzip); stacked codings are refused")
)

// maxInflating bounds the inflated buffers alive at once: inflating is
// short and CPU-bound, so more in parallel than cores gains nothing.
var maxInflating = 4 * runtime.GOMAXPROCS(0)

// body is a request body ready to decode; release returns its buffer.
type body struct {
	b   []byte
	buf *[]byte // pooled, nil when b is the raw body
}

var (
	inflateSlots = make(chan struct{}, maxInflating)
	gzipReaders  sync.Pool // *gzip.Reader
	bodyBuffers  = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
)

func (b body) release() {
	if b.buf == nil {
		return
	}
	if cap(*b.buf) <= 1<<20 {
		*b.buf = b.b[:0]
		bodyBuffers.Put(b.buf)
	}
	<-inflateSlots
}

// body returns the request's body as JSON bytes, inflated if it is gzip
// and gzip is accepted, or the refusal.
func (s *Server) body(c *fiber.Ctx) (body, *httpError) {
	req := c.Request()
	gz, err := contentCoding(&req.Header)
	switch {
	case err != nil:
		return body{}, &httpError{code: wire.CodeUnsupportedMedia, msg: err.Error(), index: -1}
	case !gz:
		return body{b: req.Body()}, nil
	case !s.cfg.AcceptGzip:
		return body{}, &httpError{code: wire.CodeUnsupportedMedia, msg: errGzipOff.Error(), index: -1}
	}
	return s.gunzip(req.Body())
}

// contentCoding reads every Content-Encoding header line: it reports
// whether the body is gzip, or why its coding is refused. Absent, empty and
// identity codings are no coding; x-gzip is gzip (RFC 9110, 8.4.1.3).
func contentCoding(h *fasthttp.RequestHeader) (gzip bool, err error) {
	n := 0
	for _, line := range h.PeekAll(fiber.HeaderContentEncoding) {
		for _, tok := range bytes.Split(line, []byte{','}) {
			tok = bytes.Trim(tok, " \t")
			switch {
			case len(tok) == 0 || bytes.EqualFold(tok, []byte("identity")):
				continue
			case bytes.EqualFold(tok, []byte("gzip")) || bytes.EqualFold(tok, []byte("x-gzip")):
				gzip = true
			default:
				return false, errors.New("Content-Encoding " + strconv.Quote(string(tok[:min(len(tok), 32)])) +
					" is not supported: send the body uncompressed (or gzip, where accepted)")
			}
			if n++; n > 1 {
				return false, errCodingLayers
			}
		}
	}
	return gzip, nil
}

// gunzip inflates src as a stream into a pooled buffer, refusing it the
// moment it passes BodyLimit bytes.
func (s *Server) gunzip(src []byte) (body, *httpError) {
	inflateSlots <- struct{}{}
	out := body{buf: bodyBuffers.Get().(*[]byte)}
	out.b = (*out.buf)[:0]
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = zr.Reset(bytes.NewReader(src))
	}
	if err == nil {
		out.b, err = readAtMost(zr, out.b, s.cfg.BodyLimit)
		gzipReaders.Put(zr)
	}
	if err == nil {
		return out, nil
	}
	out.release()
	if errors.Is(err, errTooLarge) {
		return body{}, &httpError{code: wire.CodeBodyTooLarge,
			msg: "the inflated request body is larger than " + strconv.Itoa(s.cfg.BodyLimit) + " bytes", index: -1}
	}
	return body{}, &httpError{code: wire.CodeBadEncoding,
		msg: "the body is not valid gzip: " + err.Error(), index: -1}
}

var errTooLarge = errors.New("ingest: body too large")

// readAtMost appends r's bytes to dst and fails with errTooLarge as soon as
// more than limit were read. dst grows to at most limit+1 bytes.
func readAtMost(r io.Reader, dst []byte, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			grown := make([]byte, len(dst), min(max(2*cap(dst), 4<<10), limit+1))
			copy(grown, dst)
			dst = grown
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case len(dst) > limit:
			return dst, errTooLarge
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		}
	}
}

// decode appends the request's events to dst. A refused body (its coding,
// its inflated size) is an *httpError.
func (s *Server) decode(c *fiber.Ctx, dst []wire.Event) ([]wire.Event, error) {
	b, herr := s.body(c)
	if herr != nil {
		return dst, herr
	}
	defer b.release()
	return s.dec.Decode(dst, b.b)
}
