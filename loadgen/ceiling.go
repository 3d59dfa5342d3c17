package loadgen

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// Ceiling is the bare HTTP server that bounds what any ingest can reach on
// a machine: it answers every request with 202 {"accepted":N} and does
// nothing else. N is 1 for a body that is not a JSON array, else the number
// of "match_id" keys in it (a cheap guess, not a parse; every event has
// one, and with Config.Tokens no user_id). The zero value is
// ready; Serve it on a listener and Shutdown when done.
type Ceiling struct {
	once     sync.Once
	server   *fasthttp.Server
	requests atomic.Int64
	events   atomic.Int64
}

func (c *Ceiling) init() {
	c.once.Do(func() {
		c.server = &fasthttp.Server{
			Handler:                       c.handle,
			Name:                          "emostream-ceiling",
			NoDefaultServerHeader:         true,
			NoDefaultDate:                 true,
			DisableHeaderNamesNormalizing: true,
		}
	})
}

// Serve answers connections from ln until Shutdown; it returns nil after
// Shutdown.
func (c *Ceiling) Serve(ln net.Listener) error {
	c.init()
	return c.server.Serve(ln)
}

// Shutdown closes the listeners and waits for open requests to finish.
func (c *Ceiling) Shutdown() error {
	c.init()
	return c.server.Shutdown()
}

// Requests returns how many requests the ceiling answered.
func (c *Ceiling) Requests() int64 { return c.requests.Load() }

// Events returns the sum of the N it answered.
func (c *Ceiling) Events() int64 { return c.events.Load() }

var matchIDKey = []byte(`"match_id"`)

func (c *Ceiling) handle(ctx *fasthttp.RequestCtx) {
	n := 1
	body := ctx.Request.Body()
	if len(body) > 0 && body[0] == '[' {
		n = bytes.Count(body, matchIDKey)
	}
	c.requests.Add(1)
	c.events.Add(int64(n))
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	var a [32]byte
	buf := strconv.AppendInt(append(a[:0], `{"accepted":`...), int64(n), 10)
	ctx.Response.SetBody(append(buf, '}'))
}
