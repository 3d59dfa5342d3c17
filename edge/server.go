package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"

	"github.com/emostream/emostream/internal/clientip"
	"github.com/emostream/emostream/internal/conncap"
	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/internal/ratelog"
	"github.com/emostream/emostream/internal/recovery"
)

func init() { logging.SetLevel(logging.LevelNone) } // nbio's own logger; the edge logs with slog

// The components of emostream_panics_total in the edge: a panic in one of
// its callbacks fails only that viewer's connection or that message
// (internal/recovery).
const (
	panicHTTP      = "edge_http"      // a viewer's HTTP request (the WebSocket upgrade)
	panicViewer    = "edge_viewer"    // a viewer's message or close
	panicUpstream  = "edge_upstream"  // a live swarm from upstream, a request's answer
	panicKeepalive = "edge_keepalive" // the sweep that pings viewers
)

// Edge serves viewers over WebSocket from one upstream NATS connection.
type Edge struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	nc     *nats.Conn
	engine *nbhttp.Engine
	up     *websocket.Upgrader
	sem    chan struct{} // upstream slots (MaxUpstreamRequests)
	primes chan struct{} // prime slots (primeShare)
	// primeRate bounds the primes started a second.
	primeRate *rate.Limiter
	// primeErrors logs the primes that failed, sparsely.
	primeErrors ratelog.Limiter
	info        []byte
	// gen counts the upstream connection's breaks (disconnects,
	// reconnects, dropped live swarms): a prime started in an older
	// generation may have read a latest that the swarms the edge missed
	// since then follow, so it primes nothing (prime.go).
	gen atomic.Uint64
	// live is the one subscription to every match's live swarms, and
	// dropped how many of its messages nats.go dropped, as counted so far.
	live    atomic.Pointer[nats.Subscription]
	dropped atomic.Int64
	// hook, when a test sets it, runs at the start of a callback (where:
	// one of the panic components) with its input: it plants panics.
	hook func(where string, data []byte)

	mu       sync.Mutex
	matches  map[string]*match
	sessions map[*session]struct{}
	prefixes map[string]int
	total    int // connections admitted
}

// New validates cfg and connects to the upstream (retrying in the
// background while it is down); Run serves viewers.
func New(cfg Config) (*Edge, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Edge{cfg: cfg, log: cfg.Logger.With("component", "edge", "edge", cfg.ID), m: newMetrics(cfg.Registerer),
		sem: make(chan struct{}, cfg.MaxUpstreamRequests), primes: make(chan struct{}, primeShare(cfg.MaxUpstreamRequests)),
		primeRate: primeRate(cfg.MaxUpstreamRequests),
		matches:   map[string]*match{},
		sessions:  map[*session]struct{}{}, prefixes: map[string]int{}}
	e.info = frame(infoLine(cfg))
	opts := append([]nats.Option{nats.Name("emostream-edge " + cfg.ID), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.ReconnectHandler(func(*nats.Conn) { e.log.Info("upstream reconnected"); e.reprime() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			e.gen.Add(1)
			if err != nil {
				e.log.Warn("upstream disconnected", "err", err)
			}
		}),
		// The upstream's asynchronous -ERRs (a refused subscription, a
		// permissions violation) and nats.go's slow consumer: none comes
		// from a viewer's input, so each is worth a line.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			e.log.Warn("upstream error", "err", err)
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil && sub == e.live.Load() {
				e.checkDropped(sub)
			}
		}),
	}, cfg.NATSOptions...)
	if e.nc, err = nats.Connect(cfg.NATSURL, opts...); err != nil {
		return nil, fmt.Errorf("edge: connecting to %s: %w", natsconn.Redact(cfg.NATSURL), natsconn.RedactError(err, cfg.NATSURL))
	}
	if err := e.buildEngine(); err != nil {
		e.nc.Close()
		return nil, err
	}
	return e, nil
}

// readChunk is the most nbio reads from a viewer at once: viewers send
// little (CONNECT, SUBs, PONGs, requests), and ReadLimit grows with it.
const readChunk = 4 << 10

// maxFrameHeader is a WebSocket frame's longest header: 2 bytes, an 8-byte
// length and a 4-byte mask.
const maxFrameHeader = 14

func (e *Edge) buildEngine() error {
	c := e.cfg
	ln := closeOnExec{c.Listener} // viewers' sockets stay out of child processes
	conf := nbhttp.Config{Name: "edge", Network: "tcp", Handler: http.HandlerFunc(e.serveHTTP),
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		MaxLoad: c.MaxConnections + 4096,
		// The handshake's read deadline, which nbio sets from its accept
		// goroutine, possibly after the upgrade set the viewer's: twice
		// ConnectTimeout, so that a viewer that sends no CONNECT is closed
		// by the keepalive sweep, with its -ERR, not silently by this.
		KeepaliveTime:      2 * c.ConnectTimeout,
		MaxWriteBufferSize: c.MaxPending,
		ReadBufferSize:     readChunk,
		// What nbio may hold of a viewer's input: the unfinished end of
		// a frame (of a request, before the upgrade), and one read. It
		// closes a connection whose next read would make it hold more
		// (nbhttp/websocket Conn.Parse, nbhttp Parser.Parse), so without
		// room for a read after the largest frame it closed viewers that
		// sent frames faster than the edge read them.
		ReadLimit:                    c.MaxControlLine + c.MaxPayload + maxFrameHeader + readChunk,
		MaxWebsocketFramePayloadSize: c.MaxControlLine + c.MaxPayload,
		ReleaseWebsocketPayload:      true,
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("edge: TLS: %w", err)
		}
		conf.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		conf.AddrsTLS = []string{ln.Addr().String()}
	} else {
		conf.Addrs = []string{ln.Addr().String()}
	}
	e.engine = nbhttp.NewEngine(conf)
	showHandOff(e.engine.Engine)
	u := websocket.NewUpgrader()
	u.KeepaliveTime = e.readTimeout()
	u.HandshakeTimeout = c.ConnectTimeout
	u.MessageLengthLimit = c.MaxControlLine + c.MaxPayload
	u.CheckOrigin = e.checkOrigin
	u.OnMessage(func(c *websocket.Conn, _ websocket.MessageType, data []byte) {
		if s, ok := c.Session().(*session); ok {
			defer recovery.Recover(e.log, panicViewer, s.closer)
			s.input(data)
		}
	})
	u.OnClose(func(c *websocket.Conn, err error) {
		if s, ok := c.Session().(*session); ok {
			defer recovery.Recover(e.log, panicViewer, nil)
			e.closed(s, err)
		}
	})
	e.up = u
	return nil
}

// readTimeout closes a viewer that sent nothing for this long: after the
// keepalive sweep's Stale Connection, which comes first.
func (e *Edge) readTimeout() time.Duration {
	return e.cfg.PingInterval * time.Duration(e.cfg.MaxPingsOut+2)
}

// checkOrigin admits browsers from AllowedOrigins, and every client that
// sends no Origin.
func (e *Edge) checkOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || len(e.cfg.AllowedOrigins) == 0 || slices.Contains(e.cfg.AllowedOrigins, o)
}

// serveHTTP admits a viewer within the connection limits and upgrades it.
// A panic fails only this viewer: 500 before the upgrade, closed after.
func (e *Edge) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var s *session
	defer recovery.Recover(e.log, panicHTTP, func() { e.failHTTP(w, s) })
	if !e.checkOrigin(r) {
		e.m.refused.WithLabelValues("origin").Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	prefix := e.clientNetwork(r)
	if reason := e.admit(prefix); reason != "" {
		e.m.refused.WithLabelValues(reason).Inc()
		http.Error(w, "maximum connections exceeded", http.StatusServiceUnavailable)
		return
	}
	s = &session{e: e, prefix: prefix, born: time.Now()}
	e.testHook(panicHTTP, []byte(r.URL.RawQuery))
	c, err := e.up.Upgrade(w, r, nil)
	if err != nil {
		e.release(s)
		return
	}
	s.conn, s.closer = c.UnderlayerConn(), func() { _ = c.Close() }
	c.SetSession(s)
	s.rearm() // CONNECT's timeout is the keepalive sweep's, with its -ERR
	e.mu.Lock()
	e.sessions[s] = struct{}{}
	e.mu.Unlock()
	e.m.accepted.Inc()
	if nc, ok := s.conn.(*nbio.Conn); ok {
		if gone, _ := nc.IsClosed(); gone { // closed before it had its session: OnClose missed it
			e.closed(s, nil)
			return
		}
	}
	s.write(e.info)
}

// failHTTP ends a viewer whose upgrade panicked: s is nil before it was
// admitted, has no connection before the upgrade.
func (e *Edge) failHTTP(w http.ResponseWriter, s *session) {
	switch {
	case s == nil:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case s.conn == nil:
		e.release(s)
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		s.closer()
		e.closed(s, nil) // counted out once, whether or not OnClose comes
	}
}

// testHook runs the hook a test set, if any.
func (e *Edge) testHook(where string, data []byte) {
	if e.hook != nil {
		e.hook(where, data)
	}
}

// refusedFor names each conncap refusal in connections_refused_total.
var refusedFor = map[conncap.Verdict]string{conncap.OverTotal: "max_connections", conncap.OverNetwork: "max_per_network",
	conncap.OverShare: "network_share"}

// admit counts a connection of the network prefix ("" for an exempt one)
// in, or names the limit it is over (conncap).
func (e *Edge) admit(prefix string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	networks := len(e.prefixes)
	if _, ok := e.prefixes[""]; ok {
		networks-- // the exempt peers are no network
	}
	if v := e.cfg.caps().Admit(e.total, e.prefixes[prefix], networks, prefix == ""); v != conncap.Admit {
		return refusedFor[v]
	}
	e.prefixes[prefix]++
	e.total++
	e.m.conns.Inc()
	e.m.prefixes.Set(float64(len(e.prefixes)))
	return ""
}

// release counts a connection out.
func (e *Edge) release(s *session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.sessions, s)
	if e.prefixes[s.prefix]--; e.prefixes[s.prefix] <= 0 {
		delete(e.prefixes, s.prefix)
	}
	e.total--
	e.m.conns.Dec()
	e.m.prefixes.Set(float64(len(e.prefixes)))
}

func (e *Edge) closed(s *session, err error) {
	if s.released.Swap(true) {
		return
	}
	reason := "client"
	switch {
	case errors.Is(err, nbio.ErrOverflow) || errors.Is(err, nbio.ErrWriteTimeout):
		reason = "slow_consumer"
	case errors.Is(err, nbio.ErrReadTimeout):
		reason = "stale"
	}
	if !s.failed.Load() {
		e.m.closed.WithLabelValues(reason).Inc()
		e.log.Debug("viewer closed", "reason", reason, "err", err)
	}
	s.close()
	e.release(s)
}

// clientNetwork is the client network a viewer's connection counts in: that
// of its TCP peer or, behind a proxy of TrustedProxies, of the address the
// proxies' X-Forwarded-For names (package clientip). Only a TCP peer on
// loopback (a local proxy or load generator) is exempt: a loopback address
// in X-Forwarded-For is the client's word, and counts in its network.
func (e *Edge) clientNetwork(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	a := peer.Addr()
	if len(e.cfg.TrustedProxies) == 0 {
		return networkOf(a, e.cfg.LimitLoopback)
	}
	fwd := clientip.Of(a, r.Header.Values("X-Forwarded-For"), e.cfg.TrustedProxies)
	return networkOf(fwd, e.cfg.LimitLoopback || fwd != a)
}

// networkOf is a's network: its /24 (IPv4) or /64 (IPv6), or "" for
// loopback, which is not limited unless limitLoopback (and for no address).
func networkOf(a netip.Addr, limitLoopback bool) string {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() && !limitLoopback {
		return ""
	}
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.Addr().String()
}

// Run serves viewers until ctx ends.
func (e *Edge) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if err := e.serve(ctx, &wg); err != nil {
		cancel()
		wg.Wait()
		e.nc.Close()
		return err
	}
	wg.Go(func() { e.keepalive(ctx) })
	wg.Go(func() { e.reportOccupancy(ctx) })
	<-ctx.Done()
	wg.Wait()
	e.engine.Stop()
	e.nc.Close()
	return nil
}

// serve reads the live swarms (its workers counted in wg, until ctx
// ends), then takes viewers.
func (e *Edge) serve(ctx context.Context, wg *sync.WaitGroup) error {
	if err := e.readLive(ctx, wg); err != nil {
		return err
	}
	if err := e.engine.Start(); err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	return nil
}

// Close releases an edge that was built but will not Run.
func (e *Edge) Close() {
	e.nc.Close()
	_ = e.cfg.Listener.Close()
}

// Ready reports whether the upstream connection is up.
func (e *Edge) Ready() error {
	if !e.nc.IsConnected() {
		return errors.New("edge: not connected to the upstream")
	}
	return nil
}

// URL is where viewers connect, e.g. ws://127.0.0.1:9222.
func (e *Edge) URL() string {
	scheme := "ws"
	if e.cfg.TLSCert != "" {
		scheme = "wss"
	}
	return scheme + "://" + e.cfg.Listener.Addr().String()
}

// keepalive pings viewers every PingInterval, closing those that left
// MaxPingsOut pings unanswered, and closes connections that sent no
// CONNECT within ConnectTimeout.
func (e *Edge) keepalive(ctx context.Context) {
	tick := min(time.Second, e.cfg.ConnectTimeout/2, e.cfg.PingInterval)
	t := time.NewTicker(tick)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ping := now.Sub(lastPing) >= e.cfg.PingInterval
			if ping {
				lastPing = now
			}
			recovery.Do(e.log, panicKeepalive, func() { e.sweep(now, ping) })
		}
	}
}

func (e *Edge) sweep(now time.Time, ping bool) {
	e.mu.Lock()
	all := make([]*session, 0, len(e.sessions))
	for s := range e.sessions {
		all = append(all, s)
	}
	e.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		connected, arm := s.connected, s.connected && !s.armed && now.Sub(s.born) > e.cfg.ConnectTimeout/2
		if arm {
			s.armed = true
			s.rearm()
		}
		s.mu.Unlock()
		switch {
		case !connected && now.Sub(s.born) > e.cfg.ConnectTimeout:
			s.fail(errAuthTimeout, "connect_timeout")
		case !ping || !connected:
		case int(s.pingsOut.Add(1)) > e.cfg.MaxPingsOut:
			s.fail(errStale, "stale")
		default:
			s.writeDeadlined(framePing)
		}
	}
}
