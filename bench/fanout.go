package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// The fan-out benchmark ("emostream viewers", scripts/viewers-bench.sh)
// measures the NATS tier alone: HoldViewers holds many raw WebSocket
// viewers and logs, per benchmark swarm received, its sequence number and
// delay; PublishSwarms stores stamped swarms at the hub; ReadReceipts and
// PrintFanoutReport summarise the logs of every holding process.

// swarmMarker precedes "<seq>/<publish unix ns>" in a benchmark swarm.
const swarmMarker = `"emostream_bench":"`

// HoldViewers opens n raw viewers of match, spread round-robin over urls
// and dialled at most dialers at a time, calls ready with how many are
// subscribed, then writes "<seq> <delay µs>" to out for every benchmark
// swarm a viewer receives, until ctx ends. The delay is from the publish
// time carried in the swarm.
func HoldViewers(ctx context.Context, urls []string, n, dialers int, match string, out io.Writer, ready func(int)) error {
	rec := &receiptLog{w: bufio.NewWriter(out)}
	conns, err := dialRawViewers(ctx, urls, n, max(1, dialers), wire.LiveSubject(match))
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return err
	}
	ready(len(conns))
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.run(rec) })
	}
	<-ctx.Done()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	return rec.w.Flush()
}

// receiptLog collects "<seq> <delay µs>" lines from every viewer.
type receiptLog struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (r *receiptLog) add(seq int, delay time.Duration) {
	r.mu.Lock()
	fmt.Fprintf(r.w, "%d %d\n", seq, delay.Microseconds())
	r.mu.Unlock()
}

// PublishSwarms stores n stamped swarms of match in the swarm stream
// through nc (a hub connection that may publish swarms and subscribe to
// live subjects), one per interval, and writes per swarm its
// acknowledgement time and the hub's own republish delay to out.
func PublishSwarms(ctx context.Context, nc *nats.Conn, match string, n int, interval time.Duration, out io.Writer) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
		return err
	}
	live, err := nc.SubscribeSync(wire.LiveSubject(match))
	if err != nil {
		return err
	}
	defer live.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return err
	}
	run := time.Now().UnixNano()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := range n {
		start := time.Now()
		if _, err := js.PublishMsg(ctx, stampedSwarm(match, run, seq, start)); err != nil {
			return fmt.Errorf("swarm %d: %w", seq, err)
		}
		acked := time.Since(start)
		if _, err := live.NextMsg(interval); err != nil {
			return fmt.Errorf("swarm %d not republished at the hub: %w", seq, err)
		}
		fmt.Fprintf(out, "published %d ack %.1f ms hub-live %.1f ms\n", seq, floatMs(acked), floatMs(time.Since(start)))
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// floatMs is d in milliseconds, unrounded.
func floatMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// stampedSwarm is a swarm of a realistic size with the benchmark marker.
func stampedSwarm(match string, run int64, seq int, now time.Time) *nats.Msg {
	start := now.Truncate(2 * time.Second)
	s := wire.Swarm{MatchID: match, WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Counts: map[string]int64{"🔥": 12345, "😂": 6789, "👏": 2345, "😮": 999},
		Swarm:  map[string]int64{"🔥": 12, "😂": 6, "👏": 2}, Total: 22478, Partitions: 4,
		ClosedBy: "partials", PublishedAt: now}
	body, _ := json.Marshal(s)
	body = fmt.Appendf(body[:len(body)-1], `,%s%d/%d"}`, swarmMarker, seq, time.Now().UnixNano())
	msg := nats.NewMsg(wire.SwarmSubject(match))
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("bench-%d/%d", run, seq))
	return msg
}

// swarmStamp finds the benchmark marker in a swarm body.
func swarmStamp(body []byte) (seq int, sent time.Time, ok bool) {
	i := bytes.Index(body, []byte(swarmMarker))
	if i < 0 {
		return 0, time.Time{}, false
	}
	rest := body[i+len(swarmMarker):]
	j := bytes.IndexByte(rest, '"')
	s, ns, found := strings.Cut(string(rest[:max(j, 0)]), "/")
	a, err1 := strconv.Atoi(s)
	b, err2 := strconv.ParseInt(ns, 10, 64)
	if !found || err1 != nil || err2 != nil {
		return 0, time.Time{}, false
	}
	return a, time.Unix(0, b), true
}
