package ingest_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

func gzipped(t testing.TB, layers int, parts ...[]byte) []byte {
	t.Helper()
	var b []byte
	for range layers {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		for _, p := range parts {
			zw.Write(p)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		b = buf.Bytes()
		parts = [][]byte{b}
	}
	return b
}

// postCoded posts body with the given Content-Encoding header lines.
func postCoded(t *testing.T, st *stack, body []byte, codings ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, st.url+"/v1/emojis", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if len(codings) > 0 {
		req.Header["Content-Encoding"] = codings
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

// events is a JSON array of n events of distinct users named prefix-i.
func events(prefix string, n int) string {
	return batch(n, func(i int) string { return fmt.Sprint(prefix, "-", i) })
}

// exactly posts n good events in requests of 10 from a fresh client and
// checks that every one was answered 202 and written once.
func exactly(t *testing.T, st *stack, n int, post func(body string) reply) {
	t.Helper()
	before := st.k.EndOffsets(t)
	for i := 0; i < n; i += 10 {
		if r := post(events(fmt.Sprint("legit-", time.Now().UnixNano(), "-", i), min(10, n-i))); r.status != http.StatusAccepted {
			t.Fatalf("legitimate request: %d %s", r.status, r.body)
		}
	}
	if got := sum(st.k.EndOffsets(t)) - sum(before); got != int64(n) {
		t.Errorf("%d records written for %d accepted events", got, n)
	}
}

// TestGzipBodies: bodies are bounded after decoding. Without --accept-gzip
// every coding is 415; with it, one gzip layer is inflated to at most the
// body limit, bombs are 413 at once, stacked or unknown codings 415 and
// corrupt gzip 400, nothing of them reaches Kafka, the memory allocated
// for them is bounded by the limit, and good traffic is served exactly.
func TestGzipBodies(t *testing.T) {
	const limit = 1 << 20
	bombSize := 256 << 20 // inflates 256 MiB from ~250 KiB, as in the issue
	if testing.Short() {
		bombSize = 32 << 20
	}
	k := testenv.StartKafka(t, 2).Target()
	good := []byte(events("gz", 20))
	zeros := make([]byte, 1<<20)
	bombParts := make([][]byte, bombSize>>20)
	for i := range bombParts {
		bombParts[i] = zeros
	}
	bomb := gzipped(t, 1, bombParts...)
	if len(bomb) > limit {
		t.Fatalf("the bomb is %d bytes, over the raw limit", len(bomb))
	}
	justOver := gzipped(t, 1, []byte("["+strings.Repeat(" ", limit-1)+"]"))

	t.Run("off", func(t *testing.T) {
		st := startIngest(t, k, ingest.Config{BodyLimit: limit, UserRate: -1, IPRate: -1})
		before := k.EndOffsets(t)
		for _, codings := range [][]string{{"gzip"}, {"x-gzip"}, {"gzip, gzip"}, {"br"}, {"deflate"}, {"compress"}, {"zstd"}, {"what-ever"}} {
			body := good
			if codings[0] == "gzip" {
				body = gzipped(t, 1, good)
			}
			checkError(t, postCoded(t, st, body, codings...), 415, wire.CodeUnsupportedMedia, -1)
		}
		checkError(t, postCoded(t, st, bomb, "gzip"), 415, wire.CodeUnsupportedMedia, -1)
		if after := k.EndOffsets(t); !slices.Equal(before, after) {
			t.Errorf("kafka end offsets moved from %v to %v", before, after)
		}
		for _, codings := range [][]string{nil, {"identity"}, {""}} {
			if r := postCoded(t, st, good, codings...); r.status != 202 {
				t.Errorf("Content-Encoding %q: %d %s", codings, r.status, r.body)
			}
		}
		exactly(t, st, 50, func(b string) reply { return postCoded(t, st, []byte(b)) })
	})

	t.Run("on", func(t *testing.T) {
		st := startIngest(t, k, ingest.Config{BodyLimit: limit, AcceptGzip: true, UserRate: -1, IPRate: -1})
		tests := []struct {
			name    string
			body    []byte
			codings []string
			status  int
			code    string
		}{
			{"bomb", bomb, []string{"gzip"}, 413, wire.CodeBodyTooLarge},
			{"bomb as x-gzip", bomb, []string{"x-gzip"}, 413, wire.CodeBodyTooLarge},
			{"one byte over the limit inflated", justOver, []string{"gzip"}, 413, wire.CodeBodyTooLarge},
			{"double gzip in one line", gzipped(t, 2, good), []string{"gzip, gzip"}, 415, wire.CodeUnsupportedMedia},
			{"double gzip in two lines", gzipped(t, 2, good), []string{"gzip", "gzip"}, 415, wire.CodeUnsupportedMedia},
			{"double gzip bomb", gzipped(t, 1, bomb), []string{"gzip, gzip"}, 415, wire.CodeUnsupportedMedia},
			{"double gzip sent as one", gzipped(t, 2, good), []string{"gzip"}, 400, wire.CodeBadJSON},
			{"gzip then br", gzipped(t, 1, good), []string{"gzip, br"}, 415, wire.CodeUnsupportedMedia},
			{"deflate", good, []string{"deflate"}, 415, wire.CodeUnsupportedMedia},
			{"br", good, []string{"br"}, 415, wire.CodeUnsupportedMedia},
			{"unknown", good, []string{"x-custom"}, 415, wire.CodeUnsupportedMedia},
			{"corrupt", append(gzipped(t, 1, good)[:10:10], "not deflate at all"...), []string{"gzip"}, 400, wire.CodeBadEncoding},
			{"truncated", gzipped(t, 1, good)[:30], []string{"gzip"}, 400, wire.CodeBadEncoding},
			{"not gzip", good, []string{"gzip"}, 400, wire.CodeBadEncoding},
			{"gzip of bad json", gzipped(t, 1, []byte(`{"user_id"`)), []string{"gzip"}, 400, wire.CodeBadJSON},
		}
		before := k.EndOffsets(t)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		const rounds = 3
		for range rounds {
			for _, tt := range tests {
				r := postCoded(t, st, tt.body, tt.codings...)
				if r.status != tt.status || !bytes.Contains(r.body, []byte(`"code":"`+tt.code+`"`)) {
					t.Errorf("%s: %d %s, want %d %s", tt.name, r.status, r.body, tt.status, tt.code)
				}
			}
		}
		runtime.ReadMemStats(&m1)
		// Each request may allocate its raw body, an inflated buffer of at
		// most the limit and an inflater; unbounded, each bomb alone would
		// allocate bombSize.
		if alloc, bound := m1.TotalAlloc-m0.TotalAlloc, uint64(rounds*len(tests)*(3*limit)); alloc > bound {
			t.Errorf("%d hostile requests allocated %d MiB, bound %d MiB", rounds*len(tests), alloc>>20, bound>>20)
		}
		if after := k.EndOffsets(t); !slices.Equal(before, after) {
			t.Errorf("kafka end offsets moved from %v to %v", before, after)
		}
		exactly(t, st, 50, func(b string) reply { return postCoded(t, st, gzipped(t, 1, []byte(b)), "gzip") })
		exactly(t, st, 50, func(b string) reply { return postCoded(t, st, []byte(b)) })
	})
}

// dialFrom dials addr from the loopback address local (any 127.0.0.0/8
// address is this machine's on Linux).
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("cannot bind %s on this system: %v", local, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// metric reads one sample of the server's /metrics, or 0 if absent.
func metric(t *testing.T, client *http.Client, st *stack, series string) float64 {
	t.Helper()
	res, err := client.Get(st.ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b.Bytes())
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// refusedWith503 reads the answer a refused connection gets.
func refusedWith503(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a refused connection: %v", err)
	}
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	if res.StatusCode != 503 || !strings.Contains(b.String(), wire.CodeTooManyConnections) {
		t.Errorf("a refused connection got %d %s", res.StatusCode, b.String())
	}
}

// TestIdleConnectionFlood opens idle connections past the per-network and
// the total cap. The ones over a cap get 503 too_many_connections and are
// closed at once; a client of another network is served meanwhile; when
// the total is full, new clients are refused, not left hanging, and served
// again once connections close; the server never stops.
func TestIdleConnectionFlood(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	const perPrefix, total = 20, 50
	st := startIngest(t, k, ingest.Config{MaxConnections: total, MaxPerNetwork: perPrefix, UserRate: -1, IPRate: -1,
		ReadTimeout: time.Minute}) // the idle flood stays until the test closes it
	addr := strings.TrimPrefix(st.url, "http://")
	legit := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer legit.CloseIdleConnections()
	post := func(b string) reply {
		res, err := legit.Post(st.url+"/v1/emojis", "application/json", strings.NewReader(b))
		if err != nil {
			return reply{status: 0, body: []byte(err.Error())}
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		return reply{status: res.StatusCode, body: buf.Bytes()}
	}
	refusedPrefix := `emostream_ingest_connections_refused_total{reason="max_conns_per_prefix"}`

	// One network (127.0.1.0/24) opens 2.5 times its cap.
	var flood []net.Conn
	for i := range perPrefix * 5 / 2 {
		flood = append(flood, dialFrom(t, fmt.Sprintf("127.0.1.%d", 1+i%250), addr))
	}
	testenv.WaitFor(t, 10*time.Second, "per-prefix refusals", func() bool {
		return metric(t, legit, st, refusedPrefix) == float64(len(flood)-perPrefix)
	})
	exactly(t, st, 50, post)
	if open := metric(t, legit, st, "emostream_ingest_connections_open"); open < perPrefix || open > perPrefix+2 {
		t.Errorf("%v connections open, want the %d of the flood and the client's own", open, perPrefix)
	}

	// Other networks fill the total: the connection past it, of any
	// network, is answered 503 at once instead of waiting.
	legit.CloseIdleConnections()
	for n := 2; n <= 2+total/perPrefix; n++ {
		for i := range perPrefix {
			flood = append(flood, dialFrom(t, fmt.Sprintf("127.0.%d.%d", n, 1+i), addr))
		}
	}
	refusedWith503(t, dialFrom(t, "127.0.0.1", addr))
	refusedWith503(t, flood[len(flood)-1]) // refused before the one above

	// The flood goes away; the server is still there and serves exactly.
	for _, c := range flood {
		c.Close()
	}
	testenv.WaitFor(t, 10*time.Second, "a connection after the flood", func() bool {
		r := post(event("probe", "m", "🔥"))
		legit.CloseIdleConnections()
		return r.status == http.StatusAccepted
	})
	exactly(t, st, 50, post)
	if n := metric(t, legit, st, `emostream_ingest_connections_refused_total{reason="max_conns"}`); n < 2 {
		t.Errorf("max_conns refusals counted %v times", n)
	}
}

// exhaustingListener fails Accept with EMFILE while exhausted is set, as a
// listener does when the process has no file descriptor left.
type exhaustingListener struct {
	net.Listener
	exhausted atomic.Bool
	failed    atomic.Int64
}

func (l *exhaustingListener) Accept() (net.Conn, error) {
	if l.exhausted.Load() {
		l.failed.Add(1)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptEMFILE: while every Accept fails with EMFILE the server keeps
// trying (fasthttp alone stops serving on it), and a client that waited in
// the backlog meanwhile is served once descriptors are back.
func TestAcceptEMFILE(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	real, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &exhaustingListener{Listener: real}
	st := startIngest(t, k, ingest.Config{Listener: ln, UserRate: -1, IPRate: -1})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	before := k.EndOffsets(t)
	ln.exhausted.Store(true)
	// Until the server is back in Accept, the fake cannot fail: wake it.
	if c, err := net.Dial("tcp", real.Addr().String()); err == nil {
		c.Close()
	}
	testenv.WaitFor(t, 10*time.Second, "failing accepts", func() bool { return ln.failed.Load() >= 5 })
	done := make(chan reply, 1)
	go func() {
		res, err := client.Post(st.url+"/v1/emojis", "application/json", strings.NewReader(events("waiting", 5)))
		if err != nil {
			done <- reply{body: []byte(err.Error())}
			return
		}
		res.Body.Close()
		done <- reply{status: res.StatusCode}
	}()
	testenv.WaitFor(t, 10*time.Second, "more failing accepts", func() bool { return ln.failed.Load() >= 8 })
	ln.exhausted.Store(false)
	select {
	case r := <-done:
		if r.status != http.StatusAccepted {
			t.Fatalf("the client that waited: %d %s", r.status, r.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the client that waited in the backlog was never served")
	}
	if got := sum(k.EndOffsets(t)) - sum(before); got != 5 {
		t.Errorf("%d records for 5 accepted events", got)
	}
	if n := metric(t, client, st, `emostream_ingest_connections_refused_total{reason="fd_exhausted"}`); n < 8 {
		t.Errorf("fd_exhausted counted %v times, the listener failed %d", n, ln.failed.Load())
	}
	exactly(t, st, 50, func(b string) reply { return postCoded(t, st, []byte(b)) })
}

// postFrom posts body from the loopback address local.
func postFrom(t *testing.T, st *stack, local, body string) reply {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	res, err := client.Post(st.url+"/v1/emojis", "application/json", strings.NewReader(body))
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("cannot bind %s on this system: %v", local, err)
		}
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

// TestPrefixAggregation: addresses of one /24 share one per-IP bucket, so
// 39 addresses get no more than one would; with --ip-prefix-v4 32 each has
// its own. Refused requests write nothing, and another network is served
// exactly meanwhile.
func TestPrefixAggregation(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	const burst = 20
	for _, tt := range []struct {
		name   string
		prefix int
		shared bool
	}{{"default /24", 0, true}, {"/32", 32, false}} {
		t.Run(tt.name, func(t *testing.T) {
			st := startIngest(t, k, ingest.Config{IPRate: 1, IPBurst: burst, IPPrefixV4: tt.prefix, UserRate: -1})
			before := k.EndOffsets(t)
			start := time.Now()
			var ok, limited int
			for i := 2; i <= 40; i++ {
				local := fmt.Sprintf("127.0.0.%d", i)
				for j := range 2 {
					switch r := postFrom(t, st, local, event(fmt.Sprintf("%s-%d", local, j), "m", "🔥")); r.status {
					case http.StatusAccepted:
						ok++
					case http.StatusTooManyRequests:
						limited++
					default:
						t.Fatalf("%s: %d %s", local, r.status, r.body)
					}
				}
			}
			refill := int(time.Since(start).Seconds()) + 1
			if tt.shared && (ok < burst || ok > burst+refill) {
				t.Errorf("39 addresses of one /24 got %d events through, want %d plus at most %d refilled", ok, burst, refill)
			}
			if !tt.shared && ok != 78 {
				t.Errorf("each address its own bucket: %d of 78 accepted, %d limited", ok, limited)
			}
			if got := sum(k.EndOffsets(t)) - sum(before); got != int64(ok) {
				t.Errorf("%d records written for %d accepted", got, ok)
			}
			// Another network has its own bucket.
			exactly(t, st, burst, func(b string) reply { return postFrom(t, st, "127.0.7.1", b) })
		})
	}
}

// TestBurstExceeded: a request that no wait would let through (more events
// of one user, or of one network, than the burst) gets 400 burst_exceeded
// with the index to split at, not 429, every time; one within the burst
// passes.
func TestBurstExceeded(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	st := startIngest(t, k, ingest.Config{UserRate: 20, UserBurst: 100, IPRate: 100, IPBurst: 250})
	before := k.EndOffsets(t)
	oneUser := func(n int) string { return batch(n, func(int) string { return "u" }) }
	for range 3 {
		r := st.post(t, oneUser(101))
		checkError(t, r, 400, wire.CodeBurstExceeded, 100)
		if ra := r.header.Get("Retry-After"); ra != "" {
			t.Errorf("Retry-After %q on a request that never passes", ra)
		}
	}
	// The second user is the one over: index is its 101st event.
	mixed := batch(203, func(i int) string { return []string{"a", "b"}[min(i%3, 1)] })
	checkError(t, st.post(t, mixed), 400, wire.CodeBurstExceeded, 151)
	checkError(t, st.post(t, events("many", 251)), 400, wire.CodeBurstExceeded, 250)
	if after := k.EndOffsets(t); !slices.Equal(before, after) {
		t.Errorf("kafka end offsets moved from %v to %v", before, after)
	}
	if r := st.post(t, oneUser(100)); r.status != http.StatusAccepted {
		t.Errorf("a request of the burst: %d %s", r.status, r.body)
	}
	if got := sum(k.EndOffsets(t)) - sum(before); got != 100 {
		t.Errorf("%d records written for 100 accepted", got)
	}
	// Now the user's bucket is empty: the same request is rate_limited.
	checkError(t, st.post(t, oneUser(50)), 429, wire.CodeRateLimited, -1)
}
