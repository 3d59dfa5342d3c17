package bridge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/emostream/emostream/internal/kafkaconn"
)

// The bridge fetches on a connection of its own to the partition's leader
// (kafkaconn.DialRaw: TLS, SASL, API versions) with Fetch requests it
// writes itself, and walks the version 2 record batches of the response in
// place. kafka-go's Batch read every record through a buffered reader a
// varint at a time (~130 ns per record here, more than decoding the
// record's JSON), and kafka-go decodes a Fetch response only into its own
// types, for every client in the process.

// clientID names the bridge's Kafka connections.
const clientID = "emostream-bridge"

// fetchVersion is the Fetch version the bridge speaks: the last one before
// flexible (tagged-field) encodings, answered by Kafka 2.3 and later and by
// the embedded broker.
const fetchVersion = 11

// maxFetchResponse bounds a Fetch response read: the records asked for
// (fetchMaxBytes, or one larger first batch: a broker returns the first
// batch whole) and the response's own fields.
const maxFetchResponse = maxBatchBytes + 1<<20

// errFetchResponse means a Fetch response the bridge cannot read.
var errFetchResponse = errors.New("malformed fetch response")

// rawFetcher fetches one partition over a RawConn.
type rawFetcher struct {
	conn      *kafkaconn.RawConn
	topic     string
	partition int32
	corr      int32
	req, resp []byte // reused
}

// newRawFetcher checks that conn's broker answers fetchVersion.
func newRawFetcher(conn *kafkaconn.RawConn, topic string, partition int32) (*rawFetcher, error) {
	if v, ok := conn.Versions[protocol.Fetch]; !ok || v < fetchVersion {
		return nil, fmt.Errorf("broker %s answers Fetch up to version %d; the bridge needs version %d (Kafka 2.3 or later)",
			conn.RemoteAddr(), v, fetchVersion)
	}
	return &rawFetcher{conn: conn, topic: topic, partition: partition}, nil
}

// fetch asks for the records from offset on, waiting up to maxWait for a
// first byte, and returns the partition's record set (valid until the next
// fetch; empty when there was nothing new) and high watermark. A partition
// error is returned as a kafka.Error.
func (r *rawFetcher) fetch(offset int64, maxWait time.Duration) (set []byte, hwm int64, err error) {
	r.corr++
	r.req = appendFetchRequest(r.req[:0], r.corr, r.topic, r.partition, offset, maxWait)
	if err := r.conn.SetDeadline(time.Now().Add(maxWait + 10*time.Second)); err != nil {
		return nil, 0, err
	}
	if _, err := r.conn.Write(r.req); err != nil {
		return nil, 0, err
	}
	var h [8]byte // size, correlation id
	if _, err := io.ReadFull(r.conn, h[:]); err != nil {
		return nil, 0, err
	}
	size := int64(int32(binary.BigEndian.Uint32(h[:])))
	if corr := int32(binary.BigEndian.Uint32(h[4:])); corr != r.corr || size < 4 || size > maxFetchResponse {
		return nil, 0, fmt.Errorf("%w: correlation id %d (want %d), size %d", errFetchResponse, corr, r.corr, size)
	}
	if cap(r.resp) < int(size-4) || cap(r.resp) > 2*int(size-4)+fetchMaxBytes {
		r.resp = make([]byte, size-4)
	}
	r.resp = r.resp[:size-4]
	if _, err := io.ReadFull(r.conn, r.resp); err != nil {
		return nil, 0, err
	}
	return parseFetchResponse(r.resp, r.topic, r.partition)
}

// appendFetchRequest appends a Fetch request of version fetchVersion, with
// its size and header, for one partition: no fetch session, read
// uncommitted, at most fetchMaxBytes.
func appendFetchRequest(dst []byte, corr int32, topic string, partition int32, offset int64, maxWait time.Duration) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0) // size, set below
	dst = binary.BigEndian.AppendUint16(dst, uint16(protocol.Fetch))
	dst = binary.BigEndian.AppendUint16(dst, fetchVersion)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = appendString16(dst, clientID)
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)                     // replica id: -1, a consumer
	dst = binary.BigEndian.AppendUint32(dst, uint32(maxWait.Milliseconds())) // max wait
	dst = binary.BigEndian.AppendUint32(dst, 1)                              // min bytes
	dst = binary.BigEndian.AppendUint32(dst, fetchMaxBytes)                  // max bytes
	dst = append(dst, 0)                                                     // isolation: read uncommitted
	dst = binary.BigEndian.AppendUint32(dst, 0)                              // session id: none
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)                     // session epoch: -1, a full fetch
	dst = binary.BigEndian.AppendUint32(dst, 1)                              // topics
	dst = appendString16(dst, topic)
	dst = binary.BigEndian.AppendUint32(dst, 1) // partitions
	dst = binary.BigEndian.AppendUint32(dst, uint32(partition))
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // current leader epoch: -1, unknown
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	dst = binary.BigEndian.AppendUint64(dst, 0xffffffffffffffff) // log start offset: -1 (consumers)
	dst = binary.BigEndian.AppendUint32(dst, fetchMaxBytes)      // partition max bytes
	dst = binary.BigEndian.AppendUint32(dst, 0)                  // forgotten topics
	dst = appendString16(dst, "")                                // rack id
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func appendString16(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// fetchReader reads the fields of a Fetch response; the first error sticks.
type fetchReader struct {
	b   []byte
	err error
}

func (r *fetchReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = fmt.Errorf("%w: %d bytes wanted, %d left", errFetchResponse, n, len(r.b))
		}
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *fetchReader) i16() int16 {
	if v := r.take(2); v != nil {
		return int16(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (r *fetchReader) i32() int32 {
	if v := r.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (r *fetchReader) i64() int64 {
	if v := r.take(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (r *fetchReader) str() []byte { return r.take(int(r.i16())) }

// count reads an array's length; a null array (-1) has none.
func (r *fetchReader) count() int {
	n := int(r.i32())
	if n < -1 || n > len(r.b) {
		r.take(-1)
		return 0
	}
	return max(n, 0)
}

// parseFetchResponse finds topic's partition in a Fetch response of
// version fetchVersion (after its size and correlation id) and returns its
// record set, aliasing b, and high watermark.
func parseFetchResponse(b []byte, topic string, partition int32) (set []byte, hwm int64, err error) {
	r := &fetchReader{b: b}
	r.i32() // throttle time
	if code := r.i16(); code != 0 && r.err == nil {
		return nil, 0, kafka.Error(code)
	}
	r.i32() // session id
	found := false
	for range r.count() {
		name := r.str()
		for range r.count() {
			p, code, high := r.i32(), r.i16(), r.i64()
			r.i64() // last stable offset
			r.i64() // log start offset
			for range r.count() {
				r.take(16) // an aborted transaction: producer id, first offset
			}
			r.i32() // preferred read replica
			var records []byte
			if n := r.i32(); n != -1 { // -1: null, no records
				records = r.take(int(n))
			}
			if r.err != nil || string(name) != topic || p != partition {
				continue
			}
			if code != 0 {
				return nil, 0, kafka.Error(code)
			}
			set, hwm, found = records, high, true
		}
	}
	switch {
	case r.err != nil:
		return nil, 0, r.err
	case !found:
		return nil, 0, fmt.Errorf("%w: no partition %s/%d in it", errFetchResponse, topic, partition)
	}
	return set, hwm, nil
}

// errCorruptBatch means a record batch that its own lengths or CRC
// contradict.
var errCorruptBatch = errors.New("corrupt record batch")

// batchReader walks the records of a fetched record set: version 2 record
// batches, any compression kafka-go has a codec for; control batches
// (transaction markers) are skipped. A batch the broker cut short at the
// end of the set (a fetch ends at MaxBytes) is left for the next fetch.
type batchReader struct {
	rest  []byte // the batches not read yet
	recs  []byte // the records of the current batch not read yet
	left  int    // records of the current batch not read yet
	base  int64  // the current batch's base offset
	next  int64  // the offset after the last batch read
	plain []byte // decompression scratch
}

// reset starts reading set.
func (r *batchReader) reset(set []byte) {
	r.rest, r.recs, r.left = set, nil, 0
}

// record returns the next record's offset and value (aliasing the set or
// the scratch, valid until the next call); ok is false after the last one.
func (r *batchReader) record() (off int64, value []byte, ok bool, err error) {
	for r.left == 0 {
		if ok, err := r.batch(); !ok || err != nil {
			return 0, nil, false, err
		}
	}
	r.left--
	length, n := binary.Varint(r.recs)
	if n <= 0 || length < 0 || int64(len(r.recs)-n) < length {
		return 0, nil, false, fmt.Errorf("%w: record length at offset %d", errCorruptBatch, r.base)
	}
	rec := r.recs[n : n+int(length)]
	r.recs = r.recs[n+int(length):]
	if len(rec) < 1 {
		return 0, nil, false, fmt.Errorf("%w: empty record at offset %d", errCorruptBatch, r.base)
	}
	rec = rec[1:]        // attributes
	fields := [4]int64{} // timestamp delta, offset delta, key length, value length
	for i := range fields {
		v, n := binary.Varint(rec)
		if n <= 0 {
			return 0, nil, false, fmt.Errorf("%w: record at offset %d", errCorruptBatch, r.base)
		}
		rec = rec[n:]
		fields[i] = v
		if i == 2 && v > 0 { // skip the key
			if int64(len(rec)) < v {
				return 0, nil, false, fmt.Errorf("%w: key at offset %d", errCorruptBatch, r.base)
			}
			rec = rec[v:]
		}
	}
	if vl := fields[3]; vl > 0 {
		if int64(len(rec)) < vl {
			return 0, nil, false, fmt.Errorf("%w: value at offset %d", errCorruptBatch, r.base)
		}
		value = rec[:vl]
	}
	return r.base + fields[1], value, true, nil // headers are not read
}

// batch moves to the next batch that has records; ok is false at the end.
func (r *batchReader) batch() (ok bool, err error) {
	for {
		if len(r.rest) <= kafkaconn.BatchMagicAt {
			return false, nil
		}
		base := int64(binary.BigEndian.Uint64(r.rest))
		length := int64(int32(binary.BigEndian.Uint32(r.rest[kafkaconn.BatchLengthAt:])))
		if length < kafkaconn.BatchHeaderBytes-12 {
			return false, fmt.Errorf("%w: batch length %d at offset %d", errCorruptBatch, length, base)
		}
		if int64(len(r.rest)) < 12+length {
			return false, nil // cut short at the end of the fetch
		}
		b := r.rest[:12+length]
		r.rest = r.rest[12+length:]
		if magic := b[kafkaconn.BatchMagicAt]; magic != 2 {
			return false, fmt.Errorf("record batch at offset %d is of format version %d: the bridge reads version 2 (Kafka 0.11 and later)", base, magic)
		}
		if binary.BigEndian.Uint32(b[kafkaconn.BatchCRCAt:]) != kafkaconn.BatchCRC(b) {
			return false, fmt.Errorf("%w: CRC mismatch at offset %d", errCorruptBatch, base)
		}
		attrs := binary.BigEndian.Uint16(b[kafkaconn.BatchAttributesAt:])
		r.next = max(r.next, base+int64(int32(binary.BigEndian.Uint32(b[kafkaconn.BatchLastOffsetDeltaAt:])))+1)
		count := int32(binary.BigEndian.Uint32(b[kafkaconn.BatchRecordsAt:]))
		if attrs&0x20 != 0 || count <= 0 { // a control batch, or none left
			continue
		}
		recs := b[kafkaconn.BatchHeaderBytes:]
		if c := compress.Compression(attrs & 7); c != 0 {
			if recs, err = r.decompress(c, recs); err != nil {
				return false, fmt.Errorf("batch at offset %d: %w", base, err)
			}
		}
		r.base, r.recs, r.left = base, recs, int(count)
		return true, nil
	}
}

// decompress returns the records of a batch compressed with c, in the
// scratch buffer.
func (r *batchReader) decompress(c compress.Compression, data []byte) ([]byte, error) {
	codec := c.Codec()
	if codec == nil {
		return nil, fmt.Errorf("compression %d unknown", c)
	}
	rd := codec.NewReader(bytes.NewReader(data))
	defer rd.Close()
	buf := bytes.NewBuffer(r.plain[:0])
	if _, err := buf.ReadFrom(io.LimitReader(rd, maxBatchBytes+1)); err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if buf.Len() > maxBatchBytes {
		return nil, fmt.Errorf("decompresses to more than %d bytes", maxBatchBytes)
	}
	r.plain = buf.Bytes()
	return r.plain, nil
}
