package fanout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/wire"
)

// TestLeafProcess is not a test: BenchmarkWebSocketViewers runs the test
// binary again with EMOSTREAM_LEAF_PROCESS set, so that the leaf's memory is
// measured apart from the viewers'. It prints the leaf's URLs and runs until
// its stdin closes.
func TestLeafProcess(t *testing.T) {
	remote := os.Getenv("EMOSTREAM_LEAF_PROCESS")
	if remote == "" {
		t.Skip("helper process for BenchmarkWebSocketViewers")
	}
	cfg := LeafConfig{Name: "bench-leaf", Remotes: []string{remote}, WebSocketListen: "127.0.0.1:0",
		MonitorListen: "127.0.0.1:0", MaxConnections: 20000, Logger: testLogger(),
		Compression: os.Getenv("EMOSTREAM_BENCH_COMPRESSION") != ""}
	if p, err := strconv.Atoi(os.Getenv("EMOSTREAM_BENCH_GOGC")); err == nil {
		debug.SetGCPercent(p)
	}
	l, err := NewLeaf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.opts.ProfPort = -1 // pprof on a random port, for EMOSTREAM_BENCH_PROFILE
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LEAF %s %s http://%s\n", l.WebSocketURL(), l.MonitorURL(), l.Server().ProfilerAddr())
	bufio.NewReader(os.Stdin).ReadString('\n')
	l.Shutdown()
}

// BenchmarkWebSocketViewers holds EMOSTREAM_BENCH_VIEWERS (default 2000)
// WebSocket viewers on a leaf running in a child process, then publishes
// b.N swarms at the hub, each after the previous one reached every viewer.
// It reports the leaf's RSS per viewer and the delay from the hub's publish
// to the last viewer's receipt.
func BenchmarkWebSocketViewers(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("EMOSTREAM_BENCH_VIEWERS")); err == nil {
		n = v
	}
	h := startHub(b)
	js := stageJS(b, h)
	wsURL, monURL, profURL := startLeafProcess(b, h.LeafRemote())
	base := leafRSS(b, monURL)
	v := newViewers(n)
	if err := v.connect(wsURL); err != nil {
		b.Fatal(err)
	}
	defer v.close()
	waitInterest(b, h.embedded, wire.LiveSubject("bench"), 1)
	held := leafRSS(b, monURL)
	saveProfile(b, profURL, "held")
	b.Logf("%d viewers: leaf RSS %d MiB idle, %d MiB with viewers", n, base>>20, held>>20)

	var lasts []time.Duration
	b.ResetTimer()
	for i := range b.N {
		lasts = append(lasts, v.publishAndWait(b, js, i))
	}
	b.StopTimer()
	saveProfile(b, profURL, "after")
	slices.Sort(lasts)
	b.ReportMetric(ms(lasts[len(lasts)/2]), "last-viewer-ms-p50")
	b.ReportMetric(ms(lasts[len(lasts)*99/100]), "last-viewer-ms-p99")
	b.ReportMetric(float64(held-base)/float64(n)/1024, "leaf-KiB/viewer")
	b.ReportMetric(float64(leafRSS(b, monURL)-base)/float64(n)/1024, "leaf-KiB/viewer-after")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startLeafProcess runs TestLeafProcess in a child process.
func startLeafProcess(b *testing.B, remote string) (ws, mon, profURL string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeafProcess$")
	cmd.Env = append(os.Environ(), "EMOSTREAM_LEAF_PROCESS="+remote)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "LEAF" {
			profURL = f[3]
			go func() {
				for sc.Scan() {
				}
			}()
			return f[1], f[2], profURL
		}
	}
	b.Fatal("leaf process printed no URLs")
	return "", "", ""
}

// leafRSS is the leaf process's resident memory from /varz.
func leafRSS(b *testing.B, mon string) int64 {
	resp, err := http.Get(mon + "/varz")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Mem int64 `json:"mem"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		b.Fatal(err)
	}
	return v.Mem
}

// viewers are raw WebSocket NATS connections, lighter than nats.go clients,
// that record when each benchmark swarm arrives.
type viewers struct {
	n     int
	conns []net.Conn
	mu    sync.Mutex
	seq   int           // swarm being waited for
	start time.Time     // its publish time
	got   atomic.Int64  // viewers that received it
	last  atomic.Int64  // latest receipt, ns since start
	done  chan struct{} // closed when every viewer received it
}

func newViewers(n int) *viewers { return &viewers{n: n} }

func (v *viewers) connect(wsURL string) error {
	var g errgroup.Group
	g.SetLimit(64)
	conns := make([]net.Conn, v.n)
	for i := range v.n {
		g.Go(func() (err error) {
			conns[i], err = dialViewer(wsURL, wire.LiveSubject("bench"))
			return err
		})
	}
	err := g.Wait()
	for _, c := range conns {
		if c != nil {
			v.conns = append(v.conns, c)
			go v.read(c)
		}
	}
	return err
}

func (v *viewers) close() {
	for _, c := range v.conns {
		c.Close()
	}
}

// read scans a viewer's stream for `"bench":"@<seq>@` markers and answers
// the server's PINGs.
func (v *viewers) read(c net.Conn) {
	buf := make([]byte, 2048)
	var tail []byte
	for {
		k, err := c.Read(buf)
		if err != nil {
			return
		}
		chunk := append(tail, buf[:k]...)
		if bytes.Contains(chunk, []byte("PING\r\n")) {
			writeRaw(c, "PONG\r\n")
		}
		for {
			i := bytes.Index(chunk, []byte(`"bench":"@`))
			if i < 0 {
				break
			}
			rest := chunk[i+10:]
			j := bytes.IndexByte(rest, '@')
			if j < 0 {
				break
			}
			if s, err := strconv.Atoi(string(rest[:j])); err == nil {
				v.receive(s)
			}
			chunk = rest[j+1:]
		}
		tail = append([]byte(nil), chunk[max(0, len(chunk)-32):]...)
	}
}

func (v *viewers) receive(seq int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if seq != v.seq || v.done == nil {
		return
	}
	v.last.Store(int64(time.Since(v.start)))
	if v.got.Add(1) == int64(len(v.conns)) {
		close(v.done)
		v.done = nil
	}
}

// publishAndWait publishes swarm seq at the hub and returns the delay to its
// last viewer.
func (v *viewers) publishAndWait(b *testing.B, js jetstream.JetStream, seq int) time.Duration {
	done := make(chan struct{})
	msg := nats.NewMsg(wire.SwarmSubject("bench"))
	body := swarmBody("bench", seq)
	msg.Data = append(body[:len(body)-1], []byte(fmt.Sprintf(`,"bench":"@%d@"}`, seq))...)
	msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("bench/%d", seq))
	v.mu.Lock()
	v.seq, v.done, v.start = seq, done, time.Now()
	v.got.Store(0)
	v.mu.Unlock()
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("swarm %d reached %d of %d viewers in 30s", seq, v.got.Load(), len(v.conns))
	}
	return time.Duration(v.last.Load())
}

// dialViewer opens a raw WebSocket NATS connection subscribed to subject.
func dialViewer(wsURL, subject string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(wsURL, "ws://"), 10*time.Second)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", c.RemoteAddr())
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	if err := readUntil(c, "\r\n\r\n"); err != nil {
		c.Close()
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	writeRaw(c, "CONNECT {\"verbose\":false,\"protocol\":1}\r\nSUB "+subject+" 1\r\nPING\r\n")
	if err := readUntil(c, "PONG"); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return c, nil
}

// readUntil reads c byte by byte until it has seen s.
func readUntil(c net.Conn, s string) error {
	var seen []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(seen, []byte(s)) {
		if _, err := c.Read(b); err != nil {
			return err
		}
		seen = append(seen, b[0])
	}
	return nil
}

// writeRaw writes one masked WebSocket frame (payload < 126 bytes).
func writeRaw(c net.Conn, payload string) {
	frame := []byte{0x82, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i := range len(payload) {
		frame = append(frame, payload[i]^byte(i%4+1))
	}
	c.Write(frame)
}

// saveProfile saves the leaf's heap and goroutine profiles to
// $EMOSTREAM_BENCH_PROFILE-<stage>-{heap,goroutine}.pprof when that is set.
func saveProfile(b *testing.B, profURL, stage string) {
	prefix := os.Getenv("EMOSTREAM_BENCH_PROFILE")
	if prefix == "" {
		return
	}
	for _, kind := range []string{"heap", "goroutine"} {
		resp, err := http.Get(profURL + "/debug/pprof/" + kind)
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(fmt.Sprintf("%s-%s-%s.pprof", prefix, stage, kind))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(f, resp.Body)
		resp.Body.Close()
		f.Close()
	}
}
