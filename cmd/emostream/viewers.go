package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

const viewersSynopsis = `Benchmark load for the fan-out tier (scripts/viewers-bench.sh drives it).
Three modes, each with its own flags (emostream viewers <mode> --help):

  hold     opens --count raw WebSocket NATS viewers spread round-robin over the
           leaf URLs of --ws (a minimal client: CONNECT, SUB, PONG), prints
           "ready N" once all are subscribed, then appends "<seq> <delay µs>" to
           --out for every benchmark swarm a viewer receives, until interrupted.
           The delay is from the publish time carried in the swarm.
  publish  publishes --swarms benchmark swarms of --match, one per --interval,
           into EMOSTREAM_SWARMS at the hub (which republishes them to
           emostream.live.<match>), and prints the hub's own republish delay.
  report   reads the --out files of every hold process and prints, per swarm,
           the receipt count and the p50, p99 and last-viewer delay, then their
           medians over all swarms.`

// benchMarker precedes "<seq>/<publish unix ns>" in a benchmark swarm.
const benchMarker = `"emostream_bench":"`

func init() {
	register(&command{name: "viewers", summary: "benchmark load: hold WebSocket viewers, publish swarms, report delays", run: runViewers})
}

func runViewers(ctx context.Context, env *environment, args []string) error {
	mode := ""
	if len(args) > 0 {
		mode, args = args[0], args[1:]
	}
	switch mode {
	case "hold":
		return runViewersHold(ctx, env, args)
	case "publish":
		return runViewersPublish(ctx, env, args)
	case "report":
		return runViewersReport(env, args)
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(env.stdout, "Usage: emostream viewers hold|publish|report [flags]\n\n%s\n", viewersSynopsis)
		return nil
	}
	fmt.Fprintf(env.stderr, "Usage: emostream viewers hold|publish|report [flags]\n\n%s\n", viewersSynopsis)
	return errUsage
}

func runViewersHold(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "viewers hold", viewersSynopsis)
	ws := fs.String("ws", "ws://"+"127.0.0.1:9222", "leaf WebSocket URLs, comma-separated; viewers are spread round-robin")
	count := fs.Int("count", 1000, "viewers to open")
	match := fs.String("match", "bench", "match whose live subject every viewer subscribes to")
	out := fs.String("out", "", "file for receipt lines \"<seq> <delay µs>\" (required)")
	dialers := fs.Int("dialers", 64, "connections opened at once")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	urls := fanoutList(*ws)
	if len(urls) == 0 || *count < 1 || *out == "" || !wire.ValidMatchID(*match) {
		return errors.New("viewers hold: need --ws, --count ≥ 1, --out and a valid --match")
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	rec := &receipts{w: bufio.NewWriter(f)}
	conns, err := dialViewers(ctx, urls, *count, max(1, *dialers), wire.LiveSubject(*match))
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		f.Close()
		return fmt.Errorf("viewers hold: %w", err)
	}
	fmt.Fprintf(env.stdout, "ready %d\n", len(conns))
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.run(rec) })
	}
	<-ctx.Done()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	if err := rec.w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// receipts collects "<seq> <delay µs>" lines from every viewer.
type receipts struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (r *receipts) add(seq int, delay time.Duration) {
	r.mu.Lock()
	fmt.Fprintf(r.w, "%d %d\n", seq, delay.Microseconds())
	r.mu.Unlock()
}

// dialViewers opens n viewers, n/len(urls) per URL, at most par at a time.
func dialViewers(ctx context.Context, urls []string, n, par int, subject string) ([]*wsViewer, error) {
	conns := make([]*wsViewer, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for i := range n {
		g.Go(func() (err error) {
			conns[i], err = dialViewer(ctx, urls[i%len(urls)], subject)
			return err
		})
	}
	err := g.Wait()
	return slices.DeleteFunc(conns, func(c *wsViewer) bool { return c == nil }), err
}

// wsViewer is one raw NATS-over-WebSocket subscriber.
type wsViewer struct {
	conn    net.Conn
	br      *bufio.Reader
	wmu     sync.Mutex
	pending []byte // NATS protocol bytes not parsed yet
}

func (v *wsViewer) Close() error { return v.conn.Close() }

// dialViewer upgrades a TCP connection to WebSocket, subscribes and waits
// for the server's PONG, which proves the subscription is registered.
func dialViewer(ctx context.Context, wsURL, subject string) (*wsViewer, error) {
	hostport := strings.TrimPrefix(wsURL, "ws://")
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	v := &wsViewer{conn: conn, br: bufio.NewReaderSize(conn, 1024)}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := v.handshake(hostport); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", wsURL, err)
	}
	v.write("CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"name\":\"bench\"}\r\nSUB " + subject + " 1\r\nPING\r\n")
	for {
		msgs, pong, err := v.next()
		if err != nil || len(msgs) > 0 {
			conn.Close()
			return nil, fmt.Errorf("%s: subscribing: %v", wsURL, err)
		}
		if pong {
			break
		}
	}
	conn.SetDeadline(time.Time{})
	return v, nil
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func (v *wsViewer) handshake(host string) error {
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(v.conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(v.br, req)
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	resp.Body.Close()
	sum := sha1.Sum([]byte(key + wsGUID))
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return fmt.Errorf("upgrade refused: %s", resp.Status)
	}
	return nil
}

// write sends payload as one masked binary frame.
func (v *wsViewer) write(payload string) { v.frame(0x2, []byte(payload)) }

func (v *wsViewer) frame(op byte, payload []byte) {
	var mask [4]byte
	rand.Read(mask[:])
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = binary.BigEndian.AppendUint64(append(hdr, 0x80|127), uint64(n))
	}
	buf := append(append(hdr, mask[:]...), payload...)
	for i := range payload {
		buf[len(hdr)+4+i] ^= mask[i%4]
	}
	v.wmu.Lock()
	v.conn.Write(buf)
	v.wmu.Unlock()
}

// run reads until the connection closes, recording benchmark swarms.
func (v *wsViewer) run(rec *receipts) {
	for {
		msgs, _, err := v.next()
		if err != nil {
			return
		}
		now := time.Now()
		for _, m := range msgs {
			if seq, sent, ok := benchStamp(m); ok {
				rec.add(seq, now.Sub(sent))
			}
		}
	}
}

// next reads one WebSocket frame and returns the NATS message payloads it
// completed and whether a PONG came. It answers PINGs at both levels.
func (v *wsViewer) next() (msgs [][]byte, pong bool, err error) {
	op, payload, err := v.readFrame()
	if err != nil {
		return nil, false, err
	}
	switch op {
	case 0x8:
		return nil, false, io.EOF
	case 0x9:
		v.frame(0xA, payload)
		return nil, false, nil
	case 0x0, 0x1, 0x2:
		v.pending = append(v.pending, payload...)
		return v.parse()
	}
	return nil, false, nil
}

func (v *wsViewer) readFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(v.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(v.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(v.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	if err != nil || n > 8<<20 || h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("bad frame header (len %d, masked %v): %v", n, h[1]&0x80 != 0, err)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(v.br, payload)
	return h[0] & 0x0f, payload, err
}

// parse consumes complete NATS protocol lines and messages from pending.
func (v *wsViewer) parse() (msgs [][]byte, pong bool, err error) {
	p := v.pending
	for {
		i := bytes.Index(p, []byte("\r\n"))
		if i < 0 {
			break
		}
		line := p[:i]
		switch {
		case bytes.HasPrefix(line, []byte("MSG ")):
			f := bytes.Fields(line)
			size, err := strconv.Atoi(string(f[len(f)-1]))
			if err != nil {
				return nil, false, fmt.Errorf("bad MSG line %q", line)
			}
			if len(p) < i+2+size+2 {
				v.pending = append(v.pending[:0], p...)
				return msgs, pong, nil
			}
			msgs = append(msgs, p[i+2:i+2+size])
			p = p[i+2+size+2:]
			continue
		case bytes.Equal(line, []byte("PING")):
			v.write("PONG\r\n")
		case bytes.Equal(line, []byte("PONG")):
			pong = true
		case bytes.HasPrefix(line, []byte("-ERR")):
			return nil, false, fmt.Errorf("server: %s", line)
		}
		p = p[i+2:]
	}
	// msgs alias pending's old bytes, so start a fresh buffer.
	v.pending = append([]byte(nil), p...)
	return msgs, pong, nil
}

// benchStamp finds the benchmark marker in a swarm body.
func benchStamp(body []byte) (seq int, sent time.Time, ok bool) {
	i := bytes.Index(body, []byte(benchMarker))
	if i < 0 {
		return 0, time.Time{}, false
	}
	rest := body[i+len(benchMarker):]
	j := bytes.IndexByte(rest, '"')
	s, ns, found := strings.Cut(string(rest[:max(j, 0)]), "/")
	a, err1 := strconv.Atoi(s)
	b, err2 := strconv.ParseInt(ns, 10, 64)
	if !found || err1 != nil || err2 != nil {
		return 0, time.Time{}, false
	}
	return a, time.Unix(0, b), true
}

func runViewersPublish(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "viewers publish", viewersSynopsis)
	url := fs.String("nats", "nats://127.0.0.1:4222", "hub client URL (a stage's connection)")
	match := fs.String("match", "bench", "match to publish swarms of")
	n := fs.Int("swarms", 20, "swarms to publish")
	interval := fs.Duration("interval", 2*time.Second, "time between swarms (a window is 2s)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if !wire.ValidMatchID(*match) || *n < 1 || *interval <= 0 {
		return errors.New("viewers publish: need a valid --match, --swarms ≥ 1 and --interval > 0")
	}
	nc, err := nats.Connect(*url, nats.Name("emostream viewers publish"))
	if err != nil {
		return fmt.Errorf("viewers publish: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
		return err
	}
	live, err := nc.SubscribeSync(wire.LiveSubject(*match))
	if err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	run := time.Now().UnixNano()
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for seq := range *n {
		start := time.Now()
		msg := benchSwarm(*match, run, seq, start)
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("viewers publish: swarm %d: %w", seq, err)
		}
		acked := time.Since(start)
		if _, err := live.NextMsg(*interval); err != nil {
			return fmt.Errorf("viewers publish: swarm %d not republished at the hub: %w", seq, err)
		}
		fmt.Fprintf(env.stdout, "published %d ack %.1f ms hub-live %.1f ms\n", seq, ms(acked), ms(time.Since(start)))
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchSwarm is a swarm of a realistic size with the benchmark marker.
func benchSwarm(match string, run int64, seq int, now time.Time) *nats.Msg {
	start := now.Truncate(2 * time.Second)
	s := wire.Swarm{MatchID: match, WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Counts: map[string]int64{"🔥": 12345, "😂": 6789, "👏": 2345, "😮": 999},
		Swarm:  map[string]int64{"🔥": 12, "😂": 6, "👏": 2}, Total: 22478, Partitions: 4,
		ClosedBy: "partials", PublishedAt: now}
	body, _ := json.Marshal(s)
	body = fmt.Appendf(body[:len(body)-1], `,%s%d/%d"}`, benchMarker, seq, time.Now().UnixNano())
	msg := nats.NewMsg(wire.SwarmSubject(match))
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("bench-%d/%d", run, seq))
	return msg
}

func runViewersReport(env *environment, args []string) error {
	fs := newFlags(env, "viewers report", viewersSynopsis)
	files := fs.String("files", "", "comma-separated --out files of the hold processes")
	expect := fs.Int("expect", 0, "viewers that should receive each swarm (0: don't check)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	bySeq := map[int][]time.Duration{}
	for _, name := range fanoutList(*files) {
		if err := readReceipts(name, bySeq); err != nil {
			return err
		}
	}
	if len(bySeq) == 0 {
		return errors.New("viewers report: no receipts")
	}
	return printReport(env.stdout, bySeq, *expect)
}

func readReceipts(name string, bySeq map[int][]time.Duration) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var seq int
		var us int64
		if _, err := fmt.Sscan(sc.Text(), &seq, &us); err != nil {
			return fmt.Errorf("%s: %q: %w", name, sc.Text(), err)
		}
		bySeq[seq] = append(bySeq[seq], time.Duration(us)*time.Microsecond)
	}
	return sc.Err()
}

// printReport prints per-swarm delay quantiles and their medians.
func printReport(w io.Writer, bySeq map[int][]time.Duration, expect int) error {
	var p50s, p99s, lasts []time.Duration
	short := 0
	fmt.Fprintf(w, "%6s %8s %10s %10s %10s\n", "swarm", "viewers", "p50 ms", "p99 ms", "last ms")
	for _, seq := range slices.Sorted(maps.Keys(bySeq)) {
		d := bySeq[seq]
		slices.Sort(d)
		p50, p99, last := d[len(d)/2], d[len(d)*99/100], d[len(d)-1]
		p50s, p99s, lasts = append(p50s, p50), append(p99s, p99), append(lasts, last)
		if expect > 0 && len(d) != expect {
			short++
		}
		fmt.Fprintf(w, "%6d %8d %10.1f %10.1f %10.1f\n", seq, len(d), ms(p50), ms(p99), ms(last))
	}
	for _, d := range [][]time.Duration{p50s, p99s, lasts} {
		slices.Sort(d)
	}
	med := func(d []time.Duration) float64 { return ms(d[len(d)/2]) }
	fmt.Fprintf(w, "swarms %d: median p50 %.1f ms, median p99 %.1f ms, last viewer median %.1f ms, p99 over swarms %.1f ms, max %.1f ms\n",
		len(lasts), med(p50s), med(p99s), med(lasts), ms(lasts[len(lasts)*99/100]), ms(lasts[len(lasts)-1]))
	if short > 0 {
		return fmt.Errorf("viewers report: %d swarms did not reach exactly %d viewers", short, expect)
	}
	return nil
}
