package bench

import (
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/wire"
)

// nullSubject is where the null pipeline publishes.
const nullSubject = "emostream.bench.null"

// nullPipeline is the second ceiling: an HTTP handler that decodes and
// validates a request with wire.Decoder, publishes its body to NATS core
// (an embedded nats-server of its own, one subscriber counting) and answers
// 202. No Kafka, no windows, no acknowledgement from anyone.
type nullPipeline struct {
	ns       *server.Server
	pub, sub *nats.Conn
	http     *fasthttp.Server
	ln       net.Listener
	dec      *wire.Decoder
	received atomic.Int64
}

func startNullPipeline() (_ *nullPipeline, err error) {
	p := &nullPipeline{dec: wire.NewDecoder(nil)}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.ns, err = server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, fmt.Errorf("bench: null pipeline nats: %w", err)
	}
	p.ns.Start()
	if !p.ns.ReadyForConnections(10 * time.Second) {
		return nil, fmt.Errorf("bench: null pipeline nats not ready")
	}
	if p.pub, err = nats.Connect(p.ns.ClientURL()); err != nil {
		return nil, fmt.Errorf("bench: null pipeline: %w", err)
	}
	if p.sub, err = nats.Connect(p.ns.ClientURL()); err != nil {
		return nil, fmt.Errorf("bench: null pipeline: %w", err)
	}
	if _, err = p.sub.Subscribe(nullSubject, func(*nats.Msg) { p.received.Add(1) }); err != nil {
		return nil, fmt.Errorf("bench: null pipeline: %w", err)
	}
	if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("bench: null pipeline: %w", err)
	}
	p.http = &fasthttp.Server{Handler: p.handle, NoDefaultServerHeader: true, NoDefaultDate: true}
	go p.http.Serve(p.ln) //nolint:errcheck // ends with Shutdown
	return p, nil
}

// URL is the pipeline's base URL.
func (p *nullPipeline) URL() string { return "http://" + p.ln.Addr().String() }

func (p *nullPipeline) handle(ctx *fasthttp.RequestCtx) {
	evs, err := p.dec.Decode(make([]wire.Event, 0, 8), ctx.Request.Body())
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	if err := p.pub.Publish(nullSubject, ctx.Request.Body()); err != nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	ctx.Response.SetBody(strconv.AppendInt([]byte(`{"accepted":`), int64(len(evs)), 10))
	ctx.Response.AppendBodyString("}")
}

func (p *nullPipeline) close() {
	if p.http != nil {
		_ = p.http.Shutdown()
	}
	for _, nc := range []*nats.Conn{p.pub, p.sub} {
		if nc != nil {
			nc.Close()
		}
	}
	if p.ns != nil {
		p.ns.Shutdown()
	}
}
