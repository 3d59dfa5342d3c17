package bridge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/testenv"
)

// The bridge reads record batches of every codec kafka-go writes, on the
// embedded broker and on Apache Kafka, and counts them exactly.
func TestOnEachKafkaCompressedBatchesCounted(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 2, func(t *testing.T, k testenv.KafkaTarget) {
		e := newEnvOn(t, k)
		e.start(e.config(nil))
		for _, c := range []compress.Compression{compress.None, compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
			e.w.Compression = kafka.Compression(c)
			e.produce(500, false)
			e.waitCovered()
		}
		e.check(e.waitCovered())
	})
}

// recordSet is a record set of values as kafka-go's producer writes it:
// one version 2 batch from base offset 0, compressed with c.
func recordSet(t testing.TB, c compress.Compression, values ...string) []byte {
	t.Helper()
	recs := make([]protocol.Record, len(values))
	for i, v := range values {
		recs[i] = protocol.Record{Offset: int64(i), Time: time.UnixMilli(1_000), Value: protocol.NewBytes([]byte(v))}
	}
	set := protocol.RecordSet{Version: 2, Attributes: protocol.Attributes(c), Records: protocol.NewRecordReader(recs...)}
	var buf bytes.Buffer
	if _, err := set.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()[4:] // without the set's size
}

func readAll(set []byte) (offs []int64, values []string, next int64, err error) {
	var r batchReader
	r.reset(set)
	for {
		off, v, ok, err := r.record()
		if err != nil || !ok {
			return offs, values, r.next, err
		}
		offs, values = append(offs, off), append(values, string(v))
	}
}

func TestBatchReader(t *testing.T) {
	for _, c := range []compress.Compression{compress.None, compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			set := append(recordSet(t, c, "a", "", "ccc"), recordSet(t, c, "d")...)
			binary.BigEndian.PutUint64(set[len(set)-len(recordSet(t, c, "d")):], 3) // the second batch's base offset
			offs, values, next, err := readAll(set)
			if err != nil || fmt.Sprint(offs, values, next) != "[0 1 2 3] [a  ccc d] 4" {
				t.Fatalf("read %v %q next %d, %v; want [0 1 2 3] [a  ccc d] 4", offs, values, next, err)
			}
			// A batch cut short at the end of a fetch is left for the next.
			offs, _, next, err = readAll(set[:len(set)-3])
			if err != nil || len(offs) != 3 || next != 3 {
				t.Fatalf("cut short: %v next %d, %v; want 3 records, next 3", offs, next, err)
			}
		})
	}
	set := recordSet(t, compress.None, "a", "b")
	for name, corrupt := range map[string]func([]byte){
		"crc":     func(b []byte) { b[len(b)-1] ^= 1 },
		"length":  func(b []byte) { binary.BigEndian.PutUint32(b[8:], 10) },
		"version": func(b []byte) { b[16] = 1 },
		"records": func(b []byte) { binary.BigEndian.PutUint32(b[57:], 3) },
	} {
		b := bytes.Clone(set)
		corrupt(b)
		if name != "version" && name != "crc" {
			binary.BigEndian.PutUint32(b[kafkaconn.BatchCRCAt:], kafkaconn.BatchCRC(b)) // a consistent CRC: the lengths must catch it
		}
		if _, _, _, err := readAll(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// fetchResponse is a Fetch response of version fetchVersion (after its
// size and correlation id) with one partition.
func fetchResponse(topic string, partition int32, code int16, hwm int64, records []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0) // throttle
	b = binary.BigEndian.AppendUint16(b, 0)    // error
	b = binary.BigEndian.AppendUint32(b, 0)    // session
	b = binary.BigEndian.AppendUint32(b, 1)
	b = appendString16(b, topic)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(partition))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	b = binary.BigEndian.AppendUint64(b, uint64(hwm))
	b = binary.BigEndian.AppendUint64(b, uint64(hwm)) // last stable
	b = binary.BigEndian.AppendUint64(b, 0)           // log start
	b = binary.BigEndian.AppendUint32(b, 1)           // one aborted transaction
	b = append(b, make([]byte, 16)...)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // preferred replica
	if records == nil {
		return binary.BigEndian.AppendUint32(b, 0xffffffff)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(records)))
	return append(b, records...)
}

func TestParseFetchResponse(t *testing.T) {
	set, hwm, err := parseFetchResponse(fetchResponse("t", 3, 0, 42, []byte("xyz")), "t", 3)
	if err != nil || string(set) != "xyz" || hwm != 42 {
		t.Fatalf("got %q %d %v", set, hwm, err)
	}
	if set, _, err := parseFetchResponse(fetchResponse("t", 3, 0, 42, nil), "t", 3); err != nil || set != nil {
		t.Fatalf("null records: %q %v", set, err)
	}
	if _, _, err := parseFetchResponse(fetchResponse("t", 3, 1, 42, nil), "t", 3); !errors.Is(err, kafka.OffsetOutOfRange) {
		t.Fatalf("partition error: %v, want OffsetOutOfRange", err)
	}
	if _, _, err := parseFetchResponse(fetchResponse("t", 2, 0, 42, nil), "t", 3); !errors.Is(err, errFetchResponse) {
		t.Fatalf("another partition: %v", err)
	}
	full := fetchResponse("t", 3, 0, 42, []byte("xyz"))
	for n := range len(full) {
		if _, _, err := parseFetchResponse(full[:n], "t", 3); err == nil {
			t.Fatalf("cut at %d of %d: no error", n, len(full))
		}
	}
}

// Whatever a broker sends, parsing it and walking its batches ends
// without a panic, and a set read back never reaches past the response.
func FuzzFetchResponse(f *testing.F) {
	f.Add(fetchResponse("t", 0, 0, 2, recordSet(f, compress.None, "a", "b")))
	f.Add(fetchResponse("t", 0, 0, 2, recordSet(f, compress.Snappy, "a", "b")))
	f.Add(fetchResponse("t", 0, 0, 2, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		set, _, err := parseFetchResponse(b, "t", 0)
		if err != nil {
			return
		}
		if len(set) > len(b) {
			t.Fatalf("set of %d bytes from a response of %d", len(set), len(b))
		}
		readAll(set) //nolint:errcheck // must only return
	})
}

// intern returns each name as given, whether it is found in its recent
// slot, in the map or neither, and allocates only for a name it has not
// seen.
func TestIntern(t *testing.T) {
	f := &fetcher{}
	names := []string{"match-0", "match-1", "match-10", "match-20", "🔥", "👏", "x", "match-0"}
	for range 3 {
		for _, n := range names {
			if got := f.intern([]byte(n)); got != n {
				t.Fatalf("intern(%q) = %q", n, got)
			}
		}
	}
	if got := f.intern(nil); got != "" {
		t.Fatalf("intern(nil) = %q", got)
	}
	b10, b20 := []byte("match-10"), []byte("match-20") // one slot: the second comes from the map
	if n := testing.AllocsPerRun(100, func() { f.intern(b10); f.intern(b20) }); n != 0 {
		t.Fatalf("%v allocations per known name, want 0", n)
	}
}

// fakeBroker answers the fetcher's one request with reply, over a pipe.
func fakeBroker(t *testing.T, reply []byte) *rawFetcher {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		var h [4]byte
		if _, err := io.ReadFull(server, h[:]); err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, server, int64(binary.BigEndian.Uint32(h[:]))); err != nil {
			return
		}
		server.Write(reply)
	}()
	rc := &kafkaconn.RawConn{Conn: protocol.NewConn(client, clientID), Versions: map[protocol.ApiKey]int16{protocol.Fetch: fetchVersion}}
	f, err := newRawFetcher(rc, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A response larger than maxFetchResponse, or answering another request,
// is refused before its body is read.
func TestFetchResponseBounds(t *testing.T) {
	for name, head := range map[string][2]uint32{
		"too large":       {maxFetchResponse + 5, 1},
		"negative size":   {0xfffffff0, 1},
		"another request": {100, 7},
		"size without id": {3, 1},
	} {
		reply := binary.BigEndian.AppendUint32(nil, head[0])
		reply = binary.BigEndian.AppendUint32(reply, head[1])
		_, _, err := fakeBroker(t, reply).fetch(0, time.Millisecond)
		if !errors.Is(err, errFetchResponse) {
			t.Errorf("%s: %v, want errFetchResponse", name, err)
		}
	}
	body := fetchResponse("t", 0, 0, 9, recordSet(t, compress.None, "a"))
	reply := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	reply = binary.BigEndian.AppendUint32(reply, 1)
	set, hwm, err := fakeBroker(t, append(reply, body...)).fetch(0, time.Millisecond)
	if err != nil || hwm != 9 || len(set) == 0 {
		t.Fatalf("a good response: %d bytes, hwm %d, %v", len(set), hwm, err)
	}
}

// A batch that decompresses to more than maxBatchBytes is refused.
func TestBatchDecompressionBound(t *testing.T) {
	set := recordSet(t, compress.Gzip, string(make([]byte, maxBatchBytes)))
	if _, _, _, err := readAll(set); err == nil || !strings.Contains(err.Error(), "decompresses to more than") {
		t.Fatalf("a batch of more than %d bytes decompressed: %v", maxBatchBytes, err)
	}
}
