package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/hostcheck"
	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/testenv"
)

// startOps serves an --ops listener on a random loopback port with
// limits, /readyz failing; it returns the listener's address and registry.
func startOps(t testing.TB, limits opsLimits) (string, *prometheus.Registry) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := &opsServer{ln: ln, hosts: hostcheck.New(ln.Addr(), nil), log: slog.New(slog.DiscardHandler)}
	ms.limits = limits
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ms.serve(ctx, "test_ops", reg, func() error { return fmt.Errorf("not ready: a test") })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ms.ln.Addr().String(), reg
}

// getStatus GETs path of addr with c: its status, Retry-After and body.
func getStatus(t testing.TB, c *http.Client, addr, path string) (int, string, string) {
	t.Helper()
	res, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), string(b)
}

// gauge is the value of the series name of reg (0 if it has none).
func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return 0
}

// A client that floods the --ops listener gets 429 with Retry-After and
// one line saying why, counted; a scrape from another address still gets
// its answer.
func TestOpsRateLimitsAFlood(t *testing.T) {
	addr, reg := startOps(t, opsLimits{})
	flood := testenv.ClientFrom(2, true)
	code, retry, body := 0, "", ""
	for i := 0; i < 10_000 && code != http.StatusTooManyRequests; i++ {
		code, retry, body = getStatus(t, flood, addr, "/metrics")
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("10,000 requests from one client: last %d, want 429", code)
	}
	if s, err := strconv.Atoi(retry); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want whole seconds", retry)
	}
	if !strings.Contains(body, "too many requests") || strings.Count(body, "\n") != 1 {
		t.Errorf("429 body %q, want one line saying why", body)
	}
	if code, _, body := getStatus(t, testenv.ClientFrom(3, false), addr, "/metrics"); code != http.StatusOK ||
		!strings.Contains(body, `emostream_ops_rate_limited_total{component="test_ops",scope="client"} 1`) {
		t.Errorf("a scrape from another address during the flood: %d\n%s", code, body)
	}
	if got := gauge(t, reg, "emostream_ops_rate_limited_total"); got < 1 {
		t.Errorf("emostream_ops_rate_limited_total %v, want the refusal counted", got)
	}
}

// Clients from many addresses leave at most about MaxClients buckets
// (emostream_ops_rate_limit_clients).
func TestOpsClientBucketsBounded(t *testing.T) {
	const bound = 64 // the limiter's smallest: one bucket per shard
	addr, reg := startOps(t, opsLimits{guard: ratelimit.GuardConfig{MaxClients: bound}})
	for from := 2; from < 250; from++ {
		if code, _, _ := getStatus(t, testenv.ClientFrom(byte(from), false), addr, "/metrics"); code != http.StatusOK {
			t.Fatalf("from 127.0.0.%d: %d", from, code)
		}
	}
	if n := gauge(t, reg, "emostream_ops_rate_limit_clients"); n < 1 || n > bound {
		t.Errorf("emostream_ops_rate_limit_clients %v after 248 clients, want 1..%d", n, bound)
	}
}

// Idle connections hold at most MaxPerNetwork of a client and
// MaxConnections in all; one over is answered 503 and closed, while another
// client still gets in; a closed one frees its place.
func TestOpsConnectionCaps(t *testing.T) {
	// Long timeouts: a held connection the server cut off for idling (5 s
	// by default, passed on a loaded machine) would free a place and let
	// the ninth in.
	limits := opsLimits{readHeader: time.Hour, read: time.Hour, idle: time.Hour}
	limits.guard.MaxConnections, limits.guard.MaxPerNetwork = 8, 4
	addr, reg := startOps(t, limits)
	idle := func(from byte) net.Conn {
		c, err := testenv.DialFrom(from)(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var held []net.Conn
	for range 4 {
		held = append(held, idle(2))
	}
	if got := refusal(t, idle(2)); !strings.Contains(got, "503") {
		t.Errorf("a fifth idle connection of one client: %q, want 503", got)
	}
	if code, _, _ := getStatus(t, testenv.ClientFrom(3, false), addr, "/healthz"); code != http.StatusOK {
		t.Errorf("another client while one holds its cap: %d", code)
	}
	for from := byte(3); from < 7; from++ {
		held = append(held, idle(from))
	}
	testenv.WaitFor(t, 5*time.Second, "8 open connections", func() bool { return gauge(t, reg, "emostream_ops_connections_open") == 8 })
	if got := refusal(t, idle(7)); !strings.Contains(got, "503") {
		t.Errorf("a ninth connection: %q, want 503", got)
	}
	held[0].Close()
	testenv.WaitFor(t, 5*time.Second, "a place freed", func() bool {
		code, _, _ := getStatus(t, testenv.ClientFrom(7, false), addr, "/healthz")
		return code == http.StatusOK
	})
	if n := gauge(t, reg, "emostream_ops_connections_refused_total"); n < 2 {
		t.Errorf("emostream_ops_connections_refused_total %v, want 2 or more", n)
	}
}

// refusal reads what the server says on c before closing it.
func refusal(t testing.TB, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Errorf("reading a refused connection: %v (it was not closed)", err)
	}
	return string(b)
}

// The server cuts off a client that never sends its headers, one whose
// body never ends, and a kept-alive connection left idle.
func TestOpsTimeouts(t *testing.T) {
	limits := opsLimits{readHeader: 100 * time.Millisecond, read: 300 * time.Millisecond, idle: 300 * time.Millisecond}
	addr, _ := startOps(t, limits)
	for _, tt := range []struct{ name, send string }{
		{"no headers", ""},
		{"half the headers", "GET /metrics HTTP/1.1\r\nHost: " + addr + "\r\n"},
		{"a body that never ends", "POST /healthz HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 1000\r\n\r\n0123456789"},
		{"idle after an answer", "GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, bufio.NewReader(c)); err != nil {
				t.Errorf("the connection was not cut off: %v", err)
			}
		})
	}
}

// parserRefusals are what net/http answers itself, before any handler: a
// malformed request, an Expect it does not know, headers past
// MaxHeaderBytes, a Transfer-Encoding it does not know (501, as RFC 9112
// 6.1 asks: the one 5xx an input can cause, and none of the listener's).
var parserRefusals = map[int]bool{http.StatusBadRequest: true, http.StatusExpectationFailed: true,
	http.StatusRequestHeaderFieldsTooLarge: true, http.StatusNotImplemented: true}

// FuzzOps drives the --ops listener of bridge, processor, edge, hub and
// leaf through a real socket with any method, path, Host, one more header
// and a body: nothing is a 5xx but /readyz's 503 (the process is not
// ready) and net/http's own 501, a Host that names none of the listener's names is 403 (as
// net/http reads it: white space around it trimmed) (unless
// net/http refused the request unread), and a good request is answered
// afterwards. The host "self" stands for the listener's address. The rate
// limits are off, so that every input reaches the handlers
// (TestOpsRateLimitsAFlood tests them); the connection caps and timeouts
// are on.
func FuzzOps(f *testing.F) {
	addr, _ := startOps(f, opsLimits{guard: ratelimit.GuardConfig{Rate: -1, ListenerRate: -1}})
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		f.Fatal(err)
	}
	hosts := hostcheck.New(tcp, nil)
	for _, s := range [][5]string{
		{"GET", "/metrics", "self", "Accept", ""},
		{"GET", "/healthz", "localhost", "", ""},
		{"GET", "/readyz", "127.0.0.1", "", ""},
		{"HEAD", "/metrics", "self", "Accept-Encoding", "gzip"},
		{"POST", "/metrics", "self", "Content-Type", "application/json"},
		{"OPTIONS", "*", "self", "Origin", "http://rebind.evil.example"},
		{"BREW", "/", "self", "", ""},
		{"GET", "http://rebind.evil.example/metrics", "self", "", ""},
		{"GET", "/metrics", "rebind.evil.example", "", ""},
		{"GET", "/metrics", "", "", ""},
		{"GET", "/metrics", "[::1]:0", "", ""},
		{"GET", "//metrics/../readyz?x=%00", "self", "", ""},
		{"GET", "/debug/pprof/", "self", "", ""},
		{"GET", "/healthz", "self", "Expect", "100-continue"},
		{"GET", "/healthz", "self", "Expect", "tea"},
		{"GET", "/healthz", "self", "Transfer-Encoding", "chunked"},
		{"GET", "/healthz", "self", "X-Big", strings.Repeat("a", 20_000)},
		{"PUT", "/healthz", "self", "Content-Encoding", "gzip"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], []byte("{}"))
	}
	f.Add("POST", "/readyz", "self", "", "", make([]byte, 1<<20))
	good := testenv.ClientFrom(1, false)
	f.Fuzz(func(t *testing.T, method, path, host, name, value string, body []byte) {
		if strings.ContainsAny(method+path+host+name+value, "\r\n") {
			return // framing is net/http's parser's, not the listener's
		}
		if host == "self" {
			host = addr
		}
		code, answer := rawRequest(t, addr, method, path, host, name, value, body)
		switch {
		case code >= 500 && !parserRefusals[code] && !(code == http.StatusServiceUnavailable && strings.Contains(answer, `"status":"failing"`)):
			t.Errorf("%s %q Host %q %s: %q: %d\n%s", method, path, host, name, value, code, answer)
		case !hosts.Allowed(strings.Trim(host, " \t")) && code != http.StatusForbidden && !parserRefusals[code]:
			t.Errorf("%s %q with the foreign Host %q: %d, want 403", method, path, host, code)
		}
		if code, _, _ := getStatus(t, good, addr, "/healthz"); code != http.StatusOK {
			t.Fatalf("a good request after %s %q Host %q: %d", method, path, host, code)
		}
	})
}

// rawRequest sends one request as written (its Host and header as given,
// the body with its length) and returns the answer's status and body.
func rawRequest(t *testing.T, addr, method, path, host, name, value string, body []byte) (int, string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n", method, path, host, len(body))
	if name != "" {
		head += name + ": " + value + "\r\n"
	}
	go func() { // the server may answer before it read it all
		_, _ = io.WriteString(c, head+"\r\n")
		_, _ = c.Write(body)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %q Host %q: no answer: %v", method, path, host, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Health probes are never refused 429 (their answer costs what a 429
// does): not from another address while a flood from many addresses, each
// within its own rate, has spent the listener's budget, nor from the
// flooding address itself (a kubelet behind a mesh sidecar or on the host
// network shares it). Three failed liveness probes restart the pod, so the
// limits would turn a flood into restarts; /metrics is refused meanwhile.
func TestOpsProbesSurviveFloods(t *testing.T) {
	limits := opsLimits{}
	limits.guard.Rate, limits.guard.Burst = 0.001, 1 // no refill within the test
	limits.guard.ListenerRate, limits.guard.ListenerBurst = 0.001, 5
	addr, _ := startOps(t, limits)
	for from := byte(2); from < 8; from++ { // one request from each of six addresses: past the listener's burst
		getStatus(t, testenv.ClientFrom(from, false), addr, "/metrics")
	}
	for _, from := range []byte{2, 9} { // a flooder, whose bucket is empty; another address
		c := testenv.ClientFrom(from, false)
		if code, _, _ := getStatus(t, c, addr, "/metrics"); code != http.StatusTooManyRequests {
			t.Fatalf("/metrics from 127.0.0.%d past the limits: %d, want 429", from, code)
		}
		for path, want := range map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusServiceUnavailable} {
			if code, _, body := getStatus(t, c, addr, path); code != want {
				t.Errorf("%s from 127.0.0.%d past the limits: %d %q, want %d", path, from, code, body, want)
			}
		}
	}
}

// A 429 says which limit refused it: the client's own rate (slow that
// client down) or all clients' together (look for a flood), never "this
// client or all" for a client that sent one request.
func TestOpsRefusalNamesTheLimit(t *testing.T) {
	limits := opsLimits{}
	limits.guard.Rate, limits.guard.Burst = 0.001, 1 // no refill within the test
	limits.guard.ListenerRate, limits.guard.ListenerBurst = 0.001, 2
	addr, _ := startOps(t, limits)
	getStatus(t, testenv.ClientFrom(2, false), addr, "/metrics")
	for _, tt := range []struct {
		from      byte
		want, not string
	}{
		{2, "from 127.0.0.2/32:", "together"}, // its one token spent
		{3, "", ""},                           // the listener's second: 200
		{4, "all its clients together", "from 127.0.0.4/32 or"},
	} {
		code, _, body := getStatus(t, testenv.ClientFrom(tt.from, false), addr, "/metrics")
		if tt.want == "" {
			if code != http.StatusOK {
				t.Fatalf("from 127.0.0.%d: %d %q, want 200", tt.from, code, body)
			}
			continue
		}
		if code != http.StatusTooManyRequests || !strings.Contains(body, tt.want) || strings.Contains(body, tt.not) {
			t.Errorf("from 127.0.0.%d: %d %q, want 429 saying %q, not %q", tt.from, code, body, tt.want, tt.not)
		}
	}
}
