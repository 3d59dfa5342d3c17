package stack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// The harness of the hostile-client benchmarks (hostile_bench_test.go): the
// whole stack as "emostream up" runs it (8 partitions, two leaves, the
// default 2 s window), a WebSocket viewer that records when each swarm
// arrived, and a legitimate client whose every accepted event must reach
// the viewer exactly once.

const (
	legitMatch   = "legit"
	benchWindow  = wire.DefaultWindow
	legitEvery   = 100 * time.Millisecond // one legitimate event per 100 ms
	legitMaxRun  = 5 * time.Minute        // the legitimate client stops by itself after this
	drainTimeout = 30 * time.Second       // for the last legitimate events to reach the viewer
)

// benchConfig fills in what every hostile benchmark's stack shares.
func benchConfig(b testing.TB, cfg stack.Config) stack.Config {
	cfg.DataDir, cfg.Partitions = b.TempDir(), wire.DefaultPartitions
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	cfg.WebSocketListens = []string{"127.0.0.1:0", "127.0.0.1:0"}
	if cfg.DemoMatch == "" {
		cfg.DemoMatch = legitMatch
	}
	return cfg
}

// startBench starts and runs the stack of cfg until the benchmark ends.
func startBench(b testing.TB, cfg stack.Config) *stack.Stack {
	b.Helper()
	return runStack(b, benchConfig(b, cfg))
}

func waitReady(b testing.TB, base string) {
	b.Helper()
	testenv.WaitFor(b, 30*time.Second, "ingest ready", func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// receipt is one swarm as a viewer got it.
type receipt struct {
	match     string
	end, at   time.Time // window end; when the viewer received it
	published time.Time
}

// lagViewer is the tests' viewer (counts per match and emoji, deliveries
// per window) that also records when each swarm arrived.
type lagViewer struct {
	*viewer
	recv []receipt // guarded by viewer.mu
}

// watchLag subscribes a nats.go client over WebSocket to the legitimate
// match's live subject on the stack's first leaf.
func watchLag(b testing.TB, st *stack.Stack) *lagViewer {
	b.Helper()
	nc, err := nats.Connect(st.WebSocketURLs()[0], nats.MaxReconnects(-1))
	if err != nil {
		b.Fatalf("viewer connect: %v", err)
	}
	b.Cleanup(nc.Close)
	v := &lagViewer{viewer: &viewer{counts: wire.Counts{}, windows: map[string]int{}}}
	// One match's subject, as the web client subscribes: a viewer of every
	// subject would be cut off by the leaf as a slow consumer (256 KiB
	// max_pending) when a window publishes thousands of swarms.
	sub, err := nc.Subscribe(wire.LiveSubject(legitMatch), func(m *nats.Msg) {
		at := time.Now()
		s, err := wire.DecodeSwarm(m.Data)
		if err != nil {
			b.Errorf("viewer got a bad swarm: %v", err)
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		v.add(s)
		v.recv = append(v.recv, receipt{match: s.MatchID, end: s.WindowEnd, at: at, published: s.PublishedAt})
	})
	if err != nil {
		b.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1) // a slow benchmark viewer must not drop swarms
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	return v
}

// countOf is what the viewer counted for match.
func (v *lagViewer) countOf(match string) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	var n int64
	for _, c := range v.counts[match] {
		n += c
	}
	return n
}

// twice is how many windows the viewer received more than once.
func (v *lagViewer) twice() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.windows {
		if c > 1 {
			n++
		}
	}
	return n
}

// lags are receipt − window end of legitMatch's windows ending in
// (from, to], in ms.
func (v *lagViewer) lags(from, to time.Time) []float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	var ms []float64
	for _, r := range v.recv {
		if r.end.After(from) && !r.end.After(to) {
			ms = append(ms, float64(r.at.Sub(r.end).Microseconds())/1000)
		}
	}
	return ms
}

// firstAfter is the first legitMatch swarm published after t.
func (v *lagViewer) firstAfter(t time.Time) (receipt, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.recv {
		if r.published.After(t) {
			return r, true
		}
	}
	return receipt{}, false
}

// percentile is the nearest-rank p-th percentile of xs (0 if empty).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// legitLoad posts one event of legitMatch every legitEvery from 127.0.0.1,
// each from one of 50 users, until stopped (or legitMaxRun).
type legitLoad struct {
	accepted, refused atomic.Int64
	lastRefusal       atomic.Value // string
	stop              chan struct{}
	done              chan struct{}
}

func startLegit(base string) *legitLoad {
	l := &legitLoad{stop: make(chan struct{}), done: make(chan struct{})}
	client := clientFrom("127.0.0.1", 10*time.Second, true)
	go func() {
		defer close(l.done)
		defer client.CloseIdleConnections()
		tick := time.NewTicker(legitEvery)
		defer tick.Stop()
		end := time.After(legitMaxRun)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-end:
				return
			case <-tick.C:
			}
			ev := fmt.Sprintf(`{"user_id":"fan-%d","match_id":%q,"emoji_type":"👏"}`, i%50, legitMatch)
			r := send(client, base, []byte(ev), nil)
			if r.status == http.StatusAccepted {
				l.accepted.Add(int64(r.accepted))
			} else {
				l.refused.Add(1)
				l.lastRefusal.Store(fmt.Sprint(r.status, " ", r.code, r.err))
			}
		}
	}()
	return l
}

func (l *legitLoad) halt() {
	close(l.stop)
	<-l.done
}

// answer is a POST's outcome.
type answer struct {
	status, accepted int
	code, retryAfter string
	windows          []int64
	err              error
}

// clientFrom is an HTTP client whose connections come from local.
func clientFrom(local string, timeout time.Duration, keepAlive bool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext,
		DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 4}}
}

// send posts body (JSON) with extra headers.
func send(client *http.Client, base string, body []byte, header http.Header) answer {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/emojis", bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var out struct {
		Accepted int
		Windows  []int64
		Error    struct{ Code string }
	}
	json.Unmarshal(raw, &out)
	return answer{status: res.StatusCode, accepted: out.Accepted, code: out.Error.Code,
		retryAfter: res.Header.Get("Retry-After"), windows: out.Windows}
}

// eventsJSON is a JSON array of n events; ev(i) gives user, match, emoji.
func eventsJSON(n int, ev func(i int) (user, match, emoji string)) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		u, m, e := ev(i)
		fmt.Fprintf(&b, `{"user_id":%q,"match_id":%q,"emoji_type":%q}`, u, m, e)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// matchID64 is a distinct 64-byte match id, the longest allowed.
func matchID64(prefix string, i int) string {
	id := fmt.Sprintf("%s-%09d-", prefix, i)
	return id + strings.Repeat("x", 64-len(id))
}

// mem is the process's memory: the Go heap after a GC, and the kernel's
// resident set now and at its peak since resetPeak.
type mem struct{ heap, rss, hwm float64 } // MiB

func readMem() mem {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rss, hwm := procStatus()
	return mem{heap: float64(m.HeapAlloc) / (1 << 20), rss: rss, hwm: hwm}
}

// procStatus reads VmRSS and VmHWM of /proc/self/status in MiB.
func procStatus() (rss, hwm float64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// resetPeak returns freed memory to the OS and resets VmHWM to VmRSS
// (writing 5 to clear_refs, Linux ≥ 4.0), so each benchmark's peak is its
// own, not an earlier one's in the same process.
func resetPeak() {
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// gatherSum sums the series of metric name in reg (0 if absent).
func gatherSum(reg prometheus.Gatherer, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// scenario is a running stack with its viewer and legitimate client.
type scenario struct {
	b      *testing.B
	st     *stack.Stack
	v      *lagViewer
	legit  *legitLoad
	before mem
	// quiet and attack are the phases, as [start, end) of wall time.
	quiet, attack [2]time.Time
}

// startScenario starts the stack, the viewer and the legitimate client and
// runs quietWindows windows without attack (at least one, so the first
// legitimate swarm has arrived).
func startScenario(b *testing.B, cfg stack.Config, quietWindows int) *scenario {
	b.Helper()
	resetPeak()
	s := &scenario{b: b, st: startBench(b, cfg)}
	s.v = watchLag(b, s.st)
	s.legit = startLegit(s.st.HTTPURL())
	b.Cleanup(func() {
		select {
		case <-s.legit.done:
		default:
			s.legit.halt()
		}
	})
	testenv.WaitFor(b, 30*time.Second, "the first legitimate swarm", func() bool { return s.v.countOf(legitMatch) > 0 })
	s.quiet[0] = nextWindow(time.Now())
	s.quiet[1] = s.quiet[0].Add(time.Duration(quietWindows) * benchWindow)
	sleepUntil(s.quiet[1])
	s.before = readMem()
	resetPeak()
	s.before.hwm = s.before.rss
	return s
}

// nextWindow is the start of the window after t's.
func nextWindow(t time.Time) time.Time {
	w := benchWindow.Milliseconds()
	return time.UnixMilli(wire.WindowStart(t.UnixMilli(), w) + w)
}

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) } // pacing a phase, not waiting for a condition

// run runs attack, which must return by deadline, as the attack phase.
func (s *scenario) run(d time.Duration, attack func(deadline time.Time)) {
	s.attack[0] = time.Now()
	attack(s.attack[0].Add(d))
	s.attack[1] = time.Now()
}

// finish stops the legitimate client, waits (bounded) for its events to
// reach the viewer, and reports lost, late and memory figures.
func (s *scenario) finish() (lost int64) {
	b := s.b
	peak := readMem()
	s.legit.halt()
	want := s.legit.accepted.Load()
	deadline := time.Now().Add(drainTimeout)
	for s.v.countOf(legitMatch) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // a poll interval, bounded by drainTimeout
	}
	got := s.v.countOf(legitMatch)
	lost = want - got
	after := readMem()
	attackLags := s.v.lags(s.attack[0], s.attack[1].Add(benchWindow))
	b.ReportMetric(float64(want), "legit_accepted")
	b.ReportMetric(float64(lost), "legit_lost")
	b.ReportMetric(float64(s.legit.refused.Load()), "legit_refused")
	b.ReportMetric(float64(s.v.twice()), "windows_twice")
	b.ReportMetric(percentile(attackLags, 99), "lag_p99_attack_ms")
	b.ReportMetric(s.before.heap, "heap_before_MiB")
	b.ReportMetric(after.heap, "heap_after_MiB")
	b.ReportMetric(s.before.rss, "rss_before_MiB")
	b.ReportMetric(peak.rss, "rss_after_MiB")
	b.ReportMetric(peak.hwm, "rss_peak_MiB")
	if lost != 0 || s.legit.refused.Load() != 0 {
		b.Logf("legitimate: %d accepted, %d counted, %d refused (last: %v)", want, got, s.legit.refused.Load(), s.legit.lastRefusal.Load())
	}
	return lost
}

// dialIdle opens n TCP connections to addr from the addresses local(i) and
// never writes on them. It returns those the server kept open and how many
// it answered 503 too_many_connections.
func dialIdle(b testing.TB, addr string, n int, local func(i int) string) (held []net.Conn, refused int) {
	b.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 512)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local(i))}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				b.Errorf("idle dial %d: %v", i, err)
				return
			}
			// A refused connection is answered and closed at once; a held
			// one stays silent.
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			one := make([]byte, 1)
			_, err = c.Read(one)
			var ne net.Error
			mu.Lock()
			defer mu.Unlock()
			if errors.As(err, &ne) && ne.Timeout() {
				c.SetReadDeadline(time.Time{})
				held = append(held, c)
				return
			}
			refused++
			c.Close()
		}()
	}
	wg.Wait()
	return held, refused
}

// streamCounts reads every swarm stored in the swarm stream, the ground
// truth of what was published, and sums its counts per match. An ordered
// consumer is safe here, unlike in deploy's cluster rig (clusterrig_test.go,
// stored): the stack's hub is one JetStream server, never killed before
// cleanup, so the consumer cannot be placed on a member that is gone.
func streamCounts(b testing.TB, st *stack.Stack) wire.Counts {
	b.Helper()
	nc, err := nats.Connect(st.NATSURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, wire.SwarmsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	counts := wire.Counts{}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			s, err := wire.DecodeSwarm(m.Data())
			if err != nil {
				b.Fatalf("a bad swarm in the stream: %v", err)
			}
			for e, c := range s.Counts {
				counts.Add(s.MatchID, e, c)
			}
		}
		if n == 0 {
			break
		}
	}
	return counts
}
