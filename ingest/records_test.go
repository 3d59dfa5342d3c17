package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/wire"
)

// appendRecordSet's batch, read back by kafka-go's own record-set decoder:
// every record's key, value and timestamp in order, offsets 0..n-1, a
// CRC-32C that covers the batch, for every codec, with requests received at
// different times in one batch and a value too long for encode's reserved
// length.
func TestAppendRecordSetReadsBack(t *testing.T) {
	evs := [][]wire.Event{
		{{UserID: "u-1", MatchID: "final-2026", EmojiType: "🔥", EventID: "a"}},
		{{UserID: "u-2", MatchID: "final-2026", EmojiType: "👏"}, {UserID: "u-3", MatchID: "semi", EmojiType: "😂", ClientTS: 42}},
		{{UserID: strings.Repeat("x", 9000), MatchID: "final-2026", EmojiType: "🔥"}}, // value > 8 KiB
		{{UserID: "u-4", MatchID: "final-2026", EmojiType: "🔥", VideoTS: 1795409999000}},
	}
	at := []int64{1795410000456, 1795410000300, 1795410001999, 1795410000456} // the second earlier than the first
	var reqs []*request
	type want struct {
		key, value string
		ts         int64
	}
	var wants []want
	for i, e := range evs {
		r := &request{events: e}
		r.encode(at[i])
		reqs = append(reqs, r)
		for _, ev := range e {
			rec := ev.Record(at[i])
			wants = append(wants, want{ev.UserID, string(rec.AppendJSON(nil)), at[i]})
		}
	}
	for _, c := range []kafka.Compression{0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			set, err := appendRecordSet([]byte("keep"), reqs, c)
			if err != nil {
				t.Fatal(err)
			}
			if string(set[:4]) != "keep" {
				t.Fatalf("dst's bytes changed: %q", set[:4])
			}
			set = set[4:]
			batch := set[4:]
			if n := binary.BigEndian.Uint32(set); int(n) != len(batch) {
				t.Fatalf("record set size %d, batch is %d bytes", n, len(batch))
			}
			if got, want := binary.BigEndian.Uint32(batch[kafkaconn.BatchCRCAt:]), crc32.Checksum(batch[kafkaconn.BatchAttributesAt:], crc32.MakeTable(crc32.Castagnoli)); got != want {
				t.Fatalf("crc %08x, want %08x", got, want)
			}
			var rs protocol.RecordSet
			if _, err := rs.ReadFrom(bytes.NewReader(set)); err != nil {
				t.Fatal(err)
			}
			if rs.Version != 2 || rs.Attributes.Compression() != c {
				t.Fatalf("version %d, compression %v", rs.Version, rs.Attributes.Compression())
			}
			for i := 0; ; i++ {
				r, err := rs.Records.ReadRecord()
				if err == io.EOF {
					if i != len(wants) {
						t.Fatalf("%d records, want %d", i, len(wants))
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if i >= len(wants) {
					t.Fatalf("more than %d records", len(wants))
				}
				key, _ := protocol.ReadAll(r.Key)
				value, _ := protocol.ReadAll(r.Value)
				w := wants[i]
				if r.Offset != int64(i) || string(key) != w.key || string(value) != w.value || r.Time.UnixMilli() != w.ts || len(r.Headers) != 0 {
					t.Errorf("record %d: offset %d key %.20q value %.60q time %d headers %d; want key %.20q value %.60q time %d",
						i, r.Offset, key, value, r.Time.UnixMilli(), len(r.Headers), w.key, w.value, w.ts)
				}
			}
		})
	}
}

func TestVarintLen(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 8191, 8192, 1 << 40, -1 << 62, 1<<63 - 1, -1 << 63} {
		if got, want := varintLen(v), len(binary.AppendVarint(nil, v)); got != want {
			t.Errorf("varintLen(%d) = %d, want %d", v, got, want)
		}
	}
}

// BenchmarkRecordSet: one produce's record set of 10 requests of 100
// events, written by appendRecordSet and by kafka-go's record encoder (what
// ingest used before), in ns per record.
func BenchmarkRecordSet(b *testing.B) {
	var reqs []*request
	var recs []plainRecord
	for i := range 10 {
		r := &request{}
		for j := range 100 {
			r.events = append(r.events, wire.Event{UserID: fmt.Sprintf("user-%d", 100*i+j), MatchID: "final-2026", EmojiType: "🔥", EventID: fmt.Sprintf("ev-%d", j)})
		}
		r.encode(1795410000456 + int64(i))
		reqs = append(reqs, r)
		for _, ev := range r.events {
			rec := ev.Record(r.receivedAt)
			recs = append(recs, plainRecord{r.receivedAt, []byte(ev.UserID), rec.AppendJSON(nil)})
		}
	}
	b.Run("ingest", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendRecordSet(buf[:0], reqs, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
	})
	b.Run("kafka-go", func(b *testing.B) {
		var buf bytes.Buffer
		rd := &recordsReader{recs: recs}
		for b.Loop() {
			buf.Reset()
			rd.i = 0
			rs := protocol.RecordSet{Version: 2, Records: rd}
			if _, err := rs.WriteTo(&buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
	})
}

// recordsReader yields recs reusing one record, as ingest's reader for
// kafka-go's encoder did.
type recordsReader struct {
	recs       []plainRecord
	i          int
	rec        kafka.Record
	key, value closingReader
}

type plainRecord struct {
	ts         int64
	key, value []byte
}

func (r *recordsReader) ReadRecord() (*kafka.Record, error) {
	if r.i == len(r.recs) {
		return nil, io.EOF
	}
	p := &r.recs[r.i]
	r.i++
	r.key.Reset(p.key)
	r.value.Reset(p.value)
	r.rec = kafka.Record{Time: time.UnixMilli(p.ts), Key: &r.key, Value: &r.value}
	return &r.rec, nil
}

type closingReader struct{ bytes.Reader }

func (closingReader) Close() error { return nil }
