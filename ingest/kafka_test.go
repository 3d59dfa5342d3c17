package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

func event(user, match, emoji string) string {
	return fmt.Sprintf(`{"user_id":%q,"match_id":%q,"emoji_type":%q}`, user, match, emoji)
}

func batch(n int, user func(i int) string) string {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = event(user(i), "final-2026", "🔥")
	}
	return "[" + strings.Join(evs, ",") + "]"
}

// sent is what one accepted request promised: its events by event_id, and
// the window the reply named.
type sent struct {
	events map[string]wire.Record // by event_id; ReceivedAt unknown (0)
	window int64
	before int64 // Unix ms before the request was sent
	after  int64 // and after its reply came
}

// postTracked posts n events of match with ids prefix-0.. and records what
// was promised.
func postTracked(t *testing.T, st *stack, prefix string, users []string, emoji string) sent {
	t.Helper()
	s := sent{events: map[string]wire.Record{}, before: time.Now().UnixMilli()}
	var evs []string
	for i, u := range users {
		id := fmt.Sprintf("%s-%d", prefix, i)
		evs = append(evs, fmt.Sprintf(`{"user_id":%q,"match_id":"final-2026","emoji_type":%q,"event_id":%q,"timestamp":%d}`, u, emoji, id, 1795410000000+i))
		s.events[id] = wire.Record{EventID: id, UserID: u, MatchID: "final-2026", EmojiType: emoji, ClientTS: 1795410000000 + int64(i)}
	}
	body := evs[0]
	if len(evs) > 1 {
		body = "[" + strings.Join(evs, ",") + "]"
	}
	r := st.post(t, body)
	s.after = time.Now().UnixMilli()
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	a := decodeJSON[accepted](t, r.body)
	if a.Accepted != len(users) || len(a.Windows) != 1 {
		t.Fatalf("reply %+v for %d events", a, len(users))
	}
	s.window = a.Windows[0]
	return s
}

// stored is one record as a Kafka client read it.
type stored struct {
	partition int
	key       string
	ts        int64
	rec       wire.Record
}

// checkStored compares what Kafka holds with what the requests promised:
// every event once, keyed by user_id, timestamped with its receive time in
// the promised window, all events of a request in one partition, the one
// kafka.Hash picks for the request's first user_id.
func checkStored(t *testing.T, reqs []sent, got []stored, partitions int) {
	t.Helper()
	byID := map[string]stored{}
	for _, g := range got {
		if _, dup := byID[g.rec.EventID]; dup {
			t.Errorf("event %s stored twice", g.rec.EventID)
		}
		byID[g.rec.EventID] = g
	}
	total := 0
	for _, s := range reqs {
		total += len(s.events)
		parts := map[int]bool{}
		for id, want := range s.events {
			g, ok := byID[id]
			want.ReceivedAt = g.rec.ReceivedAt
			switch {
			case !ok:
				t.Errorf("event %s missing", id)
				continue
			case g.rec != want || g.key != want.UserID:
				t.Errorf("event %s: key %q %+v, want %+v", id, g.key, g.rec, want)
			case g.ts != g.rec.ReceivedAt || g.ts < s.before || g.ts > s.after:
				t.Errorf("event %s: timestamp %d, received_at %d, sent in [%d, %d]", id, g.ts, g.rec.ReceivedAt, s.before, s.after)
			case wire.WindowStart(g.ts, 2000) != s.window:
				t.Errorf("event %s: window %d, reply said %d", id, wire.WindowStart(g.ts, 2000), s.window)
			}
			parts[g.partition] = true
		}
		first := s.events[firstID(s)].UserID
		want := (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(first)}, seq(partitions)...)
		if len(parts) != 1 || !parts[want] {
			t.Errorf("request of %d events stored in partitions %v, want only %d", len(s.events), parts, want)
		}
	}
	if len(got) != total {
		t.Errorf("%d records stored, %d accepted", len(got), total)
	}
}

func firstID(s sent) string {
	for id := range s.events {
		if strings.HasSuffix(id, "-0") {
			return id
		}
	}
	return ""
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func fromKafkaGo(t *testing.T, msgs []kafka.Message) []stored {
	t.Helper()
	out := make([]stored, len(msgs))
	for i, m := range msgs {
		out[i] = stored{partition: m.Partition, key: string(m.Key), ts: m.Time.UnixMilli()}
		if err := wire.DecodeRecord(m.Value, &out[i].rec); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// readKcat reads every partition from offsets from up to to with kcat,
// bootstrapping from all the target's brokers.
func readKcat(t *testing.T, k testenv.KafkaTarget, from, to []int64) []stored {
	t.Helper()
	kcat := testenv.RequireTool(t, "kcat", "apt-get install -y kcat")
	var out []stored
	for p := range to {
		n := to[p] - from[p]
		if n == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, kcat, "-C", "-q", "-b", strings.Join(k.Brokers, ","), "-t", k.Topic, "-p", strconv.Itoa(p),
			"-o", strconv.FormatInt(from[p], 10), "-c", strconv.FormatInt(n, 10), "-e", "-f", "%p\t%k\t%T\t%s\n")
		b, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
		out = append(out, parseKcat(t, b)...)
	}
	return out
}

func parseKcat(t *testing.T, b []byte) []stored {
	t.Helper()
	var out []stored
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 4)
		if len(f) != 4 {
			t.Fatalf("kcat line %q", sc.Text())
		}
		var s stored
		s.partition, _ = strconv.Atoi(f[0])
		s.key = f[1]
		s.ts, _ = strconv.ParseInt(f[2], 10, 64)
		if err := wire.DecodeRecord([]byte(f[3]), &s.rec); err != nil {
			t.Fatalf("kcat value %q: %v", f[3], err)
		}
		out = append(out, s)
	}
	return out
}

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// Posted events land in Kafka once each, keyed, timestamped and
// partitioned as promised, on both brokers, in either ack mode; kafka-go
// and kcat read back the same.
func TestOnEachKafkaRecordsReadBack(t *testing.T) {
	for _, ack := range []ingest.AckMode{ingest.AckAll, ingest.AckBuffered} {
		t.Run(string(ack), func(t *testing.T) {
			testenv.OnEachKafka(t, realKafka, 4, func(t *testing.T, k testenv.KafkaTarget) {
				if k.Real != nil {
					k.WarmUp(t)
				}
				st := startIngest(t, k, ingest.Config{Ack: ack})
				before := k.EndOffsets(t)
				var reqs []sent
				for i := range 20 {
					reqs = append(reqs, postTracked(t, st, fmt.Sprintf("single%d", i), []string{fmt.Sprintf("user-%d", i)}, "🔥"))
				}
				for i := range 3 {
					reqs = append(reqs, postTracked(t, st, fmt.Sprintf("array%d", i), users(fmt.Sprintf("fan%d", i), 50), "👏"))
				}
				if err := st.stop(); err != nil { // buffered: flushes what it answered
					t.Fatal(err)
				}
				after := k.EndOffsets(t)
				if sum(after)-sum(before) != 20+150 {
					t.Fatalf("end offsets grew by %d, want 170", sum(after)-sum(before))
				}
				t.Run("kafka-go", func(t *testing.T) { checkStored(t, reqs, fromKafkaGo(t, readRange(t, k, before, after)), 4) })
				t.Run("kcat", func(t *testing.T) { checkStored(t, reqs, readKcat(t, k, before, after), 4) })
			})
		})
	}
}

// TestRateLimitFlood floods one user past its burst: the refused requests
// get 429 with Retry-After and write nothing.
func TestRateLimitFlood(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	st := startIngest(t, k, ingest.Config{UserRate: 1, UserBurst: 5, IPRate: -1})
	before := k.EndOffsets(t)
	var ok, limited int
	for range 20 {
		r := st.post(t, event("flooder", "m", "🔥"))
		switch r.status {
		case http.StatusAccepted:
			ok++
		case http.StatusTooManyRequests:
			limited++
			checkError(t, r, 429, wire.CodeRateLimited, -1)
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	// 5 from the burst, at most a few refilled at 1/s while the loop ran.
	if ok < 5 || ok > 8 || limited != 20-ok {
		t.Errorf("%d accepted, %d limited", ok, limited)
	}
	// A batch naming a limited user is refused whole, even with fresh users.
	r := st.post(t, batch(3, func(i int) string { return []string{"fresh-1", "fresh-2", "flooder"}[i] }))
	checkError(t, r, 429, wire.CodeRateLimited, -1)
	if got := sum(k.EndOffsets(t)) - sum(before); got != int64(ok) {
		t.Errorf("%d records written, %d accepted", got, ok)
	}
	// The refused batch took no tokens from its fresh users.
	if r := st.post(t, batch(5, func(int) string { return "fresh-1" })); r.status != http.StatusAccepted {
		t.Errorf("fresh user after refused batch: %d %s", r.status, r.body)
	}
}

// TestIPRateLimit limits by client IP, across users.
func TestIPRateLimit(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	st := startIngest(t, k, ingest.Config{UserRate: -1, IPRate: 1, IPBurst: 10})
	if r := st.post(t, batch(10, func(i int) string { return fmt.Sprint("u", i) })); r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkError(t, st.post(t, batch(5, func(i int) string { return fmt.Sprint("v", i) })), 429, wire.CodeRateLimited, -1)
}

// TestBrokerRestartKeepsRecords restarts the broker on its data dir: every
// acknowledged record is still there, and ingest recovers by itself.
func TestBrokerRestartKeepsRecords(t *testing.T) {
	k := testenv.StartKafka(t, 4).Target()
	st := startIngest(t, k, ingest.Config{})
	before := k.EndOffsets(t)
	var reqs []sent
	for i := range 10 {
		reqs = append(reqs, postTracked(t, st, fmt.Sprintf("pre%d", i), users(fmt.Sprintf("pre%d", i), 10), "🎉"))
	}
	k.Embedded.Stop()
	k.Embedded.Start()
	testenv.WaitFor(t, 20*time.Second, "a 202 after the restart", func() bool {
		return st.post(t, event("probe", "m", "🔥")).status == http.StatusAccepted
	})
	after := k.EndOffsets(t)
	var got []stored
	for _, s := range fromKafkaGo(t, readRange(t, k, before, after)) {
		if s.rec.EventID != "" { // the probes have none
			got = append(got, s)
		}
	}
	checkStored(t, reqs, got, 4)
}

// TestBrokerDown: with the broker stopped, POST answers 503 and /readyz
// fails; after it is back, both recover.
func TestBrokerDown(t *testing.T) {
	for _, ack := range []ingest.AckMode{ingest.AckAll, ingest.AckBuffered} {
		t.Run(string(ack), func(t *testing.T) {
			k := testenv.StartKafka(t, 2).Target()
			st := startIngest(t, k, ingest.Config{Ack: ack})
			k.Embedded.Stop()
			st.waitReady(t, false)
			r := st.post(t, event("u", "m", "🔥"))
			checkError(t, r, 503, wire.CodeKafkaUnavailable, -1)
			k.Embedded.Start()
			st.waitReady(t, true)
			before := k.EndOffsets(t)
			testenv.WaitFor(t, 20*time.Second, "a 202 after the broker is back", func() bool {
				return st.post(t, event("u", "m", "🔥")).status == http.StatusAccepted
			})
			testenv.WaitFor(t, 10*time.Second, "the record", func() bool { return sum(k.EndOffsets(t)) > sum(before) })
		})
	}
}

// TestAckBuffered answers before Kafka acknowledged, and stopping the
// server still delivers every event it answered 202.
func TestAckBuffered(t *testing.T) {
	k := testenv.StartKafka(t, 4).Target()
	st := startIngest(t, k, ingest.Config{Ack: ingest.AckBuffered, FlushInterval: time.Hour, Window: time.Hour})
	before := k.EndOffsets(t)
	var reqs []sent
	for i := range 10 {
		reqs = append(reqs, postTracked(t, st, fmt.Sprintf("buf%d", i), users(fmt.Sprintf("buf%d", i), 5), "😂"))
	}
	if err := st.stop(); err != nil {
		t.Fatal(err)
	}
	after := k.EndOffsets(t)
	ids := map[string]bool{}
	for _, g := range fromKafkaGo(t, readRange(t, k, before, after)) {
		ids[g.rec.EventID] = true
	}
	for _, s := range reqs {
		for id := range s.events {
			if !ids[id] {
				t.Errorf("event %s answered 202 but not in kafka", id)
			}
		}
	}
	if len(ids) != 50 {
		t.Errorf("%d distinct records after shutdown, want 50", len(ids))
	}
}

// TestOnEachKafkaCompressedRecordsReadBack: with Compression set, the
// records land whole and read back the same on both brokers.
func TestOnEachKafkaCompressedRecordsReadBack(t *testing.T) {
	for _, c := range []kafka.Compression{kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			testenv.OnEachKafka(t, realKafka, 4, func(t *testing.T, k testenv.KafkaTarget) {
				if k.Real != nil {
					k.WarmUp(t)
				}
				st := startIngest(t, k, ingest.Config{Compression: c})
				before := k.EndOffsets(t)
				var reqs []sent
				for i := range 5 {
					reqs = append(reqs, postTracked(t, st, fmt.Sprintf("z%s%d", c, i), []string{fmt.Sprintf("user-%d", i)}, "🔥"))
				}
				reqs = append(reqs, postTracked(t, st, "zarray"+c.String(), users("zfan"+c.String(), 50), "👏"))
				if err := st.stop(); err != nil {
					t.Fatal(err)
				}
				after := k.EndOffsets(t)
				checkStored(t, reqs, fromKafkaGo(t, readRange(t, k, before, after)), 4)
			})
		})
	}
}

// TestSyncFailureIsNotReady: once Config.Sync fails for good (the embedded
// broker's fsync failed: broker.ErrFsyncFailed), a POST answers 503 and
// /readyz fails with Sync's error, and stays failed while nothing is
// posted: the idle probe calls Sync too, so a broker that still answers
// the Kafka protocol does not make ingest look ready.
func TestSyncFailureIsNotReady(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	var broken atomic.Bool
	var calls atomic.Int64
	errFsync := errors.New("broker: an fsync of the data directory failed; restart the broker")
	st := startIngest(t, k, ingest.Config{Sync: func(context.Context) error {
		calls.Add(1)
		if broken.Load() {
			return errFsync
		}
		return nil
	}})
	broken.Store(true)
	checkError(t, st.post(t, event("u", "m", "🔥")), 503, wire.CodeKafkaUnavailable, -1)
	st.waitReady(t, false)
	seen := calls.Load()
	testenv.WaitFor(t, 20*time.Second, "two idle probes", func() bool { return calls.Load() >= seen+2 })
	r := st.doAt(t, st.ops, http.MethodGet, "/readyz", "", nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "fsync of the data directory failed") {
		t.Errorf("/readyz after idle probes: %d %s, want 503 with Sync's error", r.status, r.body)
	}
}
