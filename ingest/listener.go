package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/clientip"
	"github.com/emostream/emostream/internal/conncap"
	"github.com/emostream/emostream/wire"
)

// Reasons a connection is refused, the label of
// emostream_ingest_connections_refused_total.
const (
	refusedTotal     = "max_conns"            // Config.MaxConnections reached
	refusedPrefix    = "max_conns_per_prefix" // Config.MaxPerNetwork reached for the peer's network
	refusedShare     = "network_share"        // past the high-water mark, the peer's network holds its share
	refusedExhausted = "fd_exhausted"         // accept failed: EMFILE, ENFILE, ENOBUFS or ENOMEM
)

// refusedFor names each conncap refusal.
var refusedFor = map[conncap.Verdict]string{conncap.OverTotal: refusedTotal, conncap.OverNetwork: refusedPrefix,
	conncap.OverShare: refusedShare}

// Accept back-off while the process or system is out of file descriptors
// (or socket buffers): the pending connections wait in the kernel's
// backlog, and the loop tries again.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = 500 * time.Millisecond
	exhaustedLogGap  = 10 * time.Second
)

// connMetrics are the listener's series.
type connMetrics struct {
	open    prometheus.Gauge
	refused *prometheus.CounterVec
}

func newConnMetrics(reg prometheus.Registerer) (*connMetrics, error) {
	m := &connMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "emostream_ingest_connections_open",
			Help: "Open HTTP connections of the ingest API."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emostream_ingest_connections_refused_total",
			Help: "Connections refused (closed at once) or not accepted, by reason."}, []string{"reason"}),
	}
	for _, r := range []string{refusedTotal, refusedPrefix, refusedShare, refusedExhausted} {
		m.refused.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.open, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ingest: registering metrics: %w", err)
		}
	}
	return m, nil
}

// connLimiter is the API's listener. It caps the open connections in total
// and per client network of the TCP peer, keeping the last quarter for
// networks below their share (conncap), answers one over a cap with a
// 503 too_many_connections and closes it at once, and it rides out
// EMFILE and ENFILE: fasthttp's Serve returns on any Accept error but a
// timeout, which would stop the stage, so Accept logs them (at most every
// exhaustedLogGap), backs off and accepts again.
type connLimiter struct {
	net.Listener
	caps    conncap.Caps // PerNetwork <= 0: no per-prefix cap
	v4, v6  int
	trusted []netip.Prefix
	log     *slog.Logger
	m       *connMetrics

	mu       sync.Mutex
	open     int
	byPrefix map[netip.Prefix]int
	lastLog  time.Time // of an exhausted accept
	missed   int       // exhausted accepts since lastLog
}

func newConnLimiter(ln net.Listener, cfg *Config, m *connMetrics) *connLimiter {
	return &connLimiter{Listener: ln, caps: cfg.connCaps(),
		v4: cfg.IPPrefixV4, v6: cfg.IPPrefixV6, trusted: cfg.TrustedProxies, log: cfg.Logger, m: m,
		byPrefix: map[netip.Prefix]int{}}
}

// Accept returns the next connection within the caps. Its only errors are
// those that end serving: a closed listener, or one that is not a passing
// shortage of resources.
func (l *connLimiter) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !exhausted(err) {
				return nil, err
			}
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			l.exhausted(err, delay)
			time.Sleep(delay) // a back-off: wait for descriptors to be freed
			continue
		}
		delay = 0
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// exhausted reports whether err is a shortage that passes: out of file
// descriptors (process or system) or of kernel memory.
func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (l *connLimiter) exhausted(err error, delay time.Duration) {
	l.m.refused.WithLabelValues(refusedExhausted).Inc()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.missed++; time.Since(l.lastLog) < exhaustedLogGap {
		return
	}
	l.log.Error("cannot accept connections, backing off", "err", err, "retry_in", delay,
		"failed_accepts", l.missed, "open_conns", l.open)
	l.lastLog, l.missed = time.Now(), 0
}

// admit counts c in, or refuses it with a 503 and returns nil.
func (l *connLimiter) admit(c net.Conn) net.Conn {
	p, capped := l.network(c)
	l.mu.Lock()
	v := l.caps.Admit(l.open, l.byPrefix[p], len(l.byPrefix), !capped)
	if v == conncap.Admit {
		l.open++
		if capped {
			l.byPrefix[p]++
		}
	}
	l.mu.Unlock()
	if reason := refusedFor[v]; reason != "" {
		l.m.refused.WithLabelValues(reason).Inc()
		refuse(c, reason)
		return nil
	}
	l.m.open.Inc()
	return &limitedConn{Conn: c, l: l, prefix: p, capped: capped}
}

// network is c's client network, and whether the per-prefix cap applies
// to it (not to trusted proxies, whose connections carry many clients).
func (l *connLimiter) network(c net.Conn) (netip.Prefix, bool) {
	if l.caps.PerNetwork <= 0 {
		return netip.Prefix{}, false
	}
	var a netip.Addr // zero for a peer without an IP: they share one bucket
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a = ta.AddrPort().Addr().Unmap()
	}
	return network(a, l.v4, l.v6), !clientip.Trusted(a, l.trusted)
}

func (l *connLimiter) release(p netip.Prefix, capped bool) {
	l.mu.Lock()
	l.open--
	if capped {
		if l.byPrefix[p]--; l.byPrefix[p] <= 0 {
			delete(l.byPrefix, p)
		}
	}
	l.mu.Unlock()
	l.m.open.Dec()
}

// refuse answers a connection over a cap and closes it. The answer fits
// the socket's send buffer, so the write does not block the accept loop;
// a client that already sent a request may see a reset instead.
func refuse(c net.Conn, reason string) {
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write(refusals[reason])
	c.Close()
}

var refusals = map[string][]byte{
	refusedTotal:  refusal("the server has as many connections as it allows; retry shortly"),
	refusedPrefix: refusal("too many connections from your network; close idle ones or retry shortly"),
	refusedShare:  refusal("the server is nearly full and your network holds its share of connections; close idle ones or retry shortly"),
}

func refusal(msg string) []byte {
	body := `{"error":{"code":"` + wire.CodeTooManyConnections + `","message":"` + msg + `"}}`
	status := wire.HTTPStatus(wire.CodeTooManyConnections)
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s", status, http.StatusText(status), len(body), body)
}

// limitedConn is an admitted connection; closing it frees its place.
type limitedConn struct {
	net.Conn
	l      *connLimiter
	prefix netip.Prefix
	capped bool
	once   sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.prefix, c.capped) })
	return c.Conn.Close()
}
