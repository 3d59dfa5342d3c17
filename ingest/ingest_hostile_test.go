package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// hostileServer runs a real ingest on 127.0.0.1:0 in front of k until the
// test ends and returns its base URL.
func hostileServer(t *testing.T, k testenv.KafkaTarget, cfg ingest.Config) string {
	t.Helper()
	return startIngest(t, k, cfg).url
}

type hostileReply struct {
	status int
	code   string
	body   string
}

func hostilePost(t *testing.T, url string, body []byte, header map[string]string) hostileReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/emojis", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(b, &e)
	return hostileReply{status: res.StatusCode, code: e.Error.Code, body: string(b)}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

const okEvent = `{"user_id":"u","match_id":"m","emoji_type":"🔥"}`

// TestHostileBodies posts malformed, mistyped, nested, oversized and
// mis-encoded bodies: each gets the documented 4xx (docs/api.md), nothing
// reaches Kafka, the server keeps answering and its memory stays bounded.
func TestHostileBodies(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	url := hostileServer(t, k, ingest.Config{BodyLimit: 1 << 20, UserRate: -1, IPRate: -1})
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"truncated object", `{"user_id":"u","match_id":"m","emoji_type":"🔥"`, 400, wire.CodeBadJSON},
		{"truncated string", `{"user_id":"u`, 400, wire.CodeBadJSON},
		{"truncated array", `[` + okEvent + `,`, 400, wire.CodeBadJSON},
		{"truncated escape", `{"user_id":"\u12`, 400, wire.CodeBadJSON},
		{"bare comma", `,`, 400, wire.CodeBadJSON},
		{"two objects", okEvent + okEvent, 400, wire.CodeBadJSON},
		{"single quotes", `{'user_id':'u'}`, 400, wire.CodeBadJSON},
		{"deeply nested arrays", deep, 400, wire.CodeBadJSON},
		{"deeply nested value", `{"user_id":` + deep + `,"match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"nested object value", `{"user_id":{"a":{"b":1}},"match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"array of arrays", `[[` + okEvent + `]]`, 400, wire.CodeBadJSON},
		{"array of strings", `["🔥"]`, 400, wire.CodeBadJSON},
		{"null", `null`, 400, wire.CodeBadJSON},
		{"match number", `{"user_id":"u","match_id":7,"emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"emoji null", `{"user_id":"u","match_id":"m","emoji_type":null}`, 400, wire.CodeBadField},
		{"emoji array", `{"user_id":"u","match_id":"m","emoji_type":["🔥"]}`, 400, wire.CodeBadField},
		{"timestamp bool", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":true}`, 400, wire.CodeBadField},
		{"timestamp float", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":1.5}`, 400, wire.CodeBadField},
		{"timestamp negative", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":-1}`, 400, wire.CodeBadField},
		{"timestamp huge", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":99999999999999999999999}`, 400, wire.CodeBadField},
		{"event_id number", `{"user_id":"u","match_id":"m","emoji_type":"🔥","event_id":1}`, 400, wire.CodeBadField},
		{"event_id empty", `{"user_id":"u","match_id":"m","emoji_type":"🔥","event_id":""}`, 400, wire.CodeBadField},
		{"upper-case key", `{"USER_ID":"u","match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"mixed-case key", `{"user_id":"u","Match_Id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"escaped duplicate key", `{"user_id":"u","user\u005fid":"v","match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"duplicate emoji key", `{"user_id":"u","match_id":"m","emoji_type":"🔥","emoji_type":"👏"}`, 400, wire.CodeBadField},
		{"unknown field", `{"user_id":"u","match_id":"m","emoji_type":"🔥","admin":true}`, 400, wire.CodeBadField},
		{"unknown field huge", `{"user_id":"u","match_id":"m","emoji_type":"🔥","x":"` + strings.Repeat("x", 900<<10) + `"}`, 400, wire.CodeBadField},
		{"huge user_id", `{"user_id":"` + strings.Repeat("u", 900<<10) + `","match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"huge emoji", `{"user_id":"u","match_id":"m","emoji_type":"` + strings.Repeat("🔥", 200<<10) + `"}`, 400, wire.CodeUnknownEmoji},
		{"control char in user_id", `{"user_id":"u\u0000","match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"newline in event_id", `{"user_id":"u","match_id":"m","emoji_type":"🔥","event_id":"a\nb"}`, 400, wire.CodeBadField},
		{"subject wildcard match", `{"user_id":"u","match_id":"m.>","emoji_type":"🔥"}`, 400, wire.CodeBadField},
		{"NFD accent in match", "{\"user_id\":\"u\",\"match_id\":\"cafe\u0301\",\"emoji_type\":\"🔥\"}", 400, wire.CodeBadField},
		{"invalid UTF-8 in value", "{\"user_id\":\"u\xff\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", 400, wire.CodeBadJSON},
		{"invalid UTF-8 in key", "{\"user_id\xc3\":\"u\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", 400, wire.CodeBadJSON},
		{"overlong UTF-8", "{\"user_id\":\"\xc0\xaf\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", 400, wire.CodeBadJSON},
		{"lone surrogate", `{"user_id":"\ud800","match_id":"m","emoji_type":"🔥"}`, 400, wire.CodeBadJSON},
		{"BOM", "\xef\xbb\xbf" + okEvent, 400, wire.CodeBadJSON},
		{"ZWJ family not listed", `{"user_id":"u","match_id":"m","emoji_type":"👨‍👩‍👧"}`, 400, wire.CodeUnknownEmoji},
		{"ZWJ joined to a listed emoji", "{\"user_id\":\"u\",\"match_id\":\"m\",\"emoji_type\":\"🔥\u200d🔥\"}", 400, wire.CodeUnknownEmoji},
		{"trailing ZWJ", "{\"user_id\":\"u\",\"match_id\":\"m\",\"emoji_type\":\"🔥\u200d\"}", 400, wire.CodeUnknownEmoji},
		{"two emojis", `{"user_id":"u","match_id":"m","emoji_type":"🔥🔥"}`, 400, wire.CodeUnknownEmoji},
		{"keycap", `{"user_id":"u","match_id":"m","emoji_type":"#️⃣"}`, 400, wire.CodeUnknownEmoji},
		{"lone skin tone", `{"user_id":"u","match_id":"m","emoji_type":"🏽"}`, 400, wire.CodeUnknownEmoji},
		{"lone variation selector", "{\"user_id\":\"u\",\"match_id\":\"m\",\"emoji_type\":\"\ufe0f\"}", 400, wire.CodeUnknownEmoji},
		{"1001 events", "[" + strings.Repeat(okEvent+",", 1000) + okEvent + "]", 400, wire.CodeTooManyEvents},
	}
	before := k.EndOffsets(t)
	heap0 := heapInUse()
	for round := range 3 { // repeated, so a leak would show in the heap
		for _, tt := range tests {
			r := hostilePost(t, url, []byte(tt.body), nil)
			if r.status != tt.status || r.code != tt.code {
				t.Errorf("round %d, %s: %d %s, want %d %s (%.200s)", round, tt.name, r.status, r.code, tt.status, tt.code, r.body)
			}
		}
	}
	if after := k.EndOffsets(t); !slices.Equal(before, after) {
		t.Errorf("kafka end offsets moved from %v to %v", before, after)
	}
	if grew := int64(heapInUse()) - int64(heap0); grew > 32<<20 {
		t.Errorf("heap in use grew by %d MiB over %d hostile requests", grew>>20, 3*len(tests))
	}
	if r := hostilePost(t, url, []byte(okEvent), nil); r.status != 202 {
		t.Errorf("a good request after the hostile ones: %d %s", r.status, r.body)
	}
	// Over the limit: the headers announce a body larger than the limit and
	// the server answers 413 before reading it. Sending no body keeps the
	// server's close from racing the client's write into a reset.
	before = k.EndOffsets(t)
	if status, code := announceOversized(t, url, 2<<20); status != 413 || code != wire.CodeBodyTooLarge {
		t.Errorf("over the body limit: %d %s, want 413 %s", status, code, wire.CodeBodyTooLarge)
	}
	if after := k.EndOffsets(t); !slices.Equal(before, after) {
		t.Errorf("kafka end offsets moved from %v to %v", before, after)
	}
}

// TestEmojiVariants: spellings of a listed emoji are accepted and stored in
// the list's spelling, so they count as that emoji.
func TestEmojiVariants(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	url := hostileServer(t, k, ingest.Config{UserRate: -1, IPRate: -1})
	variants := []struct{ sent, stored string }{
		{"❤", "❤️"},            // without FE0F
		{"❤️", "❤️"},           // with FE0F
		{"❤\ufe0e", "❤️"},      // text presentation selector
		{"👍🏽", "👍"},            // skin tone
		{"👍🏿", "👍"},            // another tone
		{"⚽", "⚽"},             // no selector
		{"⚽\ufe0f", "⚽"},       // emoji presentation selector added
		{"👏\ufe0f\ufe0f", "👏"}, // repeated selector
	}
	before := k.EndOffsets(t)
	for i, v := range variants {
		body := fmt.Sprintf(`{"user_id":"u%d","match_id":"m","emoji_type":%q,"event_id":"v%d"}`, i, v.sent, i)
		if r := hostilePost(t, url, []byte(body), nil); r.status != 202 {
			t.Errorf("%+q: %d %s", v.sent, r.status, r.body)
		}
	}
	got := map[string]string{}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: k.Topic, Partition: 0})
	defer r.Close()
	r.SetOffset(before[0])
	for range variants {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := r.FetchMessage(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var rec wire.Record
		if err := wire.DecodeRecord(m.Value, &rec); err != nil {
			t.Fatal(err)
		}
		got[rec.EventID] = rec.EmojiType
	}
	for i, v := range variants {
		if s := got[fmt.Sprintf("v%d", i)]; s != v.stored {
			t.Errorf("%+q stored as %+q, want %+q", v.sent, s, v.stored)
		}
	}
}

// TestSpoofedForwardedFor: one client flooding with a new X-Forwarded-For
// (and Forwarded, X-Real-IP) on every request is still one IP when no proxy
// is trusted, and its refused requests write nothing.
func TestSpoofedForwardedFor(t *testing.T) {
	k := testenv.StartKafka(t, 2).Target()
	url := hostileServer(t, k, ingest.Config{UserRate: -1, IPRate: 1, IPBurst: 20})
	before := k.EndOffsets(t)
	var ok, limited int
	for i := range 200 {
		h := map[string]string{
			"X-Forwarded-For": fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256),
			"X-Real-IP":       fmt.Sprintf("192.0.2.%d", i%256),
			"Forwarded":       fmt.Sprintf("for=198.51.100.%d", i%256),
		}
		body := fmt.Sprintf(`{"user_id":"flood-%d","match_id":"m","emoji_type":"🔥"}`, i)
		switch r := hostilePost(t, url, []byte(body), h); r.status {
		case 202:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	// 20 from the burst, plus at most one a second while the loop ran.
	if ok < 20 || ok > 40 || limited != 200-ok {
		t.Errorf("%d accepted, %d limited: spoofed headers evaded the per-IP limit", ok, limited)
	}
	var written int64
	for p, end := range k.EndOffsets(t) {
		written += end - before[p]
	}
	if written != int64(ok) {
		t.Errorf("%d records written for %d accepted requests", written, ok)
	}
}

// TestRepeatedEventIDs: a retried event is accepted each time (ingest does
// not dedup; the bridge counts an event_id once, which the chaos harness
// checks end to end), and both events of a request that repeats an
// event_id within itself are answered consistently.
func TestRepeatedEventIDs(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	url := hostileServer(t, k, ingest.Config{UserRate: -1, IPRate: -1})
	body := []byte(`{"user_id":"u","match_id":"m","emoji_type":"🔥","event_id":"same"}`)
	for i := range 5 {
		if r := hostilePost(t, url, body, nil); r.status != 202 {
			t.Errorf("retry %d: %d %s", i, r.status, r.body)
		}
	}
	twice := []byte(`[{"user_id":"u","match_id":"m","emoji_type":"🔥","event_id":"x"},{"user_id":"v","match_id":"m","emoji_type":"👏","event_id":"x"}]`)
	r := hostilePost(t, url, twice, nil)
	if r.status != 202 && r.status != 400 {
		t.Errorf("one event_id twice in one request: %d %s", r.status, r.body)
	}
	t.Logf("one event_id twice in one request: %d %s", r.status, r.body)
}

// TestSlowLoris: connections that trickle their headers or body a byte at a
// time are closed by the read timeout, and a normal client is served
// meanwhile.
func TestSlowLoris(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	const readTimeout = time.Second
	url := hostileServer(t, k, ingest.Config{ReadTimeout: readTimeout, UserRate: -1, IPRate: -1})
	addr := strings.TrimPrefix(url, "http://")
	body := okEvent
	trickles := map[string]struct{ head, trickle string }{
		"headers": {"POST /v1/emojis HTTP/1.1\r\n", "Host: x\r\nContent-Type: application/json\r\nX-Pad: " + strings.Repeat("a", 200)},
		"body": {fmt.Sprintf("POST /v1/emojis HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body)+100),
			body + strings.Repeat(" ", 100)},
	}
	for name, tr := range trickles {
		t.Run(name, func(t *testing.T) {
			var conns []net.Conn
			for range 20 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if _, err := io.WriteString(c, tr.head); err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			if r := hostilePost(t, url, []byte(okEvent), nil); r.status != 202 {
				t.Errorf("normal client beside slow ones: %d %s", r.status, r.body)
			}
			closed := make(chan time.Duration, len(conns))
			start := time.Now()
			for _, c := range conns {
				go func() {
					c.SetReadDeadline(time.Now().Add(30 * time.Second))
					bufio.NewReader(c).ReadByte() // a 408/400 or EOF: either way the server gave up on it
					closed <- time.Since(start)
				}()
			}
			// Trickle a byte every 100ms: the attack's own pace.
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(20 * time.Second)
			got, pos := 0, 0
			for got < len(conns) {
				select {
				case d := <-closed:
					got++
					if d > readTimeout+3*time.Second {
						t.Errorf("a slow connection lived %v with a read timeout of %v", d, readTimeout)
					}
				case <-tick.C:
					if pos < len(tr.trickle) {
						for _, c := range conns {
							c.Write([]byte{tr.trickle[pos]})
						}
						pos++
					}
				case <-deadline:
					t.Fatalf("%d of %d slow connections still open after 20s", len(conns)-got, len(conns))
				}
			}
		})
	}
}

// TestNonJSONLiteralInField: a bare word where a value belongs (NaN,
// Infinity, a misspelt true) is not JSON, which docs/api.md answers with
// bad_json, not bad_field.
func TestNonJSONLiteralInField(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	url := hostileServer(t, k, ingest.Config{UserRate: -1, IPRate: -1})
	for _, lit := range []string{"NaN", "Infinity", "tru", "nul"} {
		body := `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":` + lit + `}`
		if r := hostilePost(t, url, []byte(body), nil); r.status != 400 || r.code != wire.CodeBadJSON {
			t.Errorf("%s: %d %s, want 400 bad_json", lit, r.status, r.body)
		}
	}
}

// announceOversized sends only the headers of a POST whose Content-Length is
// n and returns the status and error code of the answer.
func announceOversized(t *testing.T, url string, n int) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /v1/emojis HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to an oversized body: %v", err)
	}
	defer res.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(res.Body).Decode(&e)
	return res.StatusCode, e.Error.Code
}
