package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/wire"
)

// request is one POST's events on their way to Kafka. Requests are pooled:
// whoever finishes last with one releases it.
type request struct {
	events     []wire.Event
	buf        []byte // each record's tail (recordTail), back to back
	ends       []int  // where each record's tail ends in buf
	receivedAt int64  // Unix ms, the records' timestamp
	done       chan error
	wait       bool           // a handler waits on done (AckAll)
	users      map[string]int // scratch for the per-user rate limit
}

var requestPool = sync.Pool{New: func() any {
	return &request{done: make(chan error, 1), users: make(map[string]int)}
}}

func acquireRequest() *request { return requestPool.Get().(*request) }

func releaseRequest(r *request) {
	if cap(r.buf) > 1<<20 || cap(r.events) > wire.MaxBatch {
		return // let an outsized one go rather than pin it
	}
	r.events, r.buf, r.ends = r.events[:0], r.buf[:0], r.ends[:0]
	clear(r.users)
	requestPool.Put(r)
}

// valueLenBytes is the room encode leaves for a value's length: a varint of
// 2 bytes holds lengths up to 8191, and every record value is longer than 63
// bytes (its key names alone are), so only a value over 8 KiB moves.
const valueLenBytes = 2

// encode builds the records of r.events received at receivedAt. Each
// record is kept as its tail in Kafka's record encoding (key length, key,
// value length, value, no headers), so a produce writes only the part that
// depends on the record's place in its batch (appendRecordSet).
func (r *request) encode(receivedAt int64) {
	r.receivedAt = receivedAt
	for i := range r.events {
		ev := &r.events[i]
		r.buf = binary.AppendVarint(r.buf, int64(len(ev.UserID)))
		r.buf = append(r.buf, ev.UserID...)
		at := len(r.buf)
		r.buf = append(r.buf, make([]byte, valueLenBytes)...)
		rec := ev.Record(receivedAt)
		r.buf = rec.AppendJSON(r.buf)
		n := len(r.buf) - at - valueLenBytes
		var lb [binary.MaxVarintLen64]byte
		if k := binary.PutVarint(lb[:], int64(n)); k == valueLenBytes {
			copy(r.buf[at:], lb[:k])
		} else { // a value over 8 KiB: move it to fit its length
			value := append([]byte(nil), r.buf[at+valueLenBytes:]...)
			r.buf = append(append(r.buf[:at], lb[:k]...), value...)
		}
		r.buf = append(r.buf, 0) // no headers
		r.ends = append(r.ends, len(r.buf))
	}
}

// size is the request's approximate share of a produce request in bytes.
func (r *request) size() int { return len(r.buf) + 8*len(r.ends) }

// finish hands the produce result to the waiting handler, or releases r.
func (r *request) finish(err error) {
	if r.wait {
		r.done <- err
		return
	}
	releaseRequest(r)
}

// count is the number of records of reqs.
func count(reqs []*request) int {
	n := 0
	for _, r := range reqs {
		n += len(r.ends)
	}
	return n
}

// appendRecordSet appends to dst what a produce request carries for one
// partition: the record set's int32 size, then one version 2 record batch
// of every record of reqs, its records compressed with c unless it is 0.
// Writing the batch here, from the tails encode built, costs a varint or
// three and one copy per record; kafka-go's record encoder read each key
// and value through an interface into paged buffers.
func appendRecordSet(dst []byte, reqs []*request, c kafka.Compression) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, 4+kafkaconn.BatchHeaderBytes)...)
	b := start + 4 // the batch
	first, maxTS := reqs[0].receivedAt, reqs[0].receivedAt
	n := 0
	for _, r := range reqs {
		maxTS = max(maxTS, r.receivedAt)
		delta := r.receivedAt - first
		from := 0
		for _, end := range r.ends {
			tail := r.buf[from:end]
			from = end
			length := 1 + varintLen(delta) + varintLen(int64(n)) + len(tail)
			dst = binary.AppendVarint(dst, int64(length))
			dst = append(dst, 0) // record attributes
			dst = binary.AppendVarint(dst, delta)
			dst = binary.AppendVarint(dst, int64(n))
			dst = append(dst, tail...)
			n++
		}
	}
	if c != 0 {
		codec := c.Codec()
		if codec == nil {
			return dst[:start], fmt.Errorf("ingest: no codec for compression %d", c)
		}
		plain := append([]byte(nil), dst[b+kafkaconn.BatchHeaderBytes:]...)
		out := bytes.NewBuffer(dst[:b+kafkaconn.BatchHeaderBytes]) // writes append after the header
		w := codec.NewWriter(out)
		if _, err := w.Write(plain); err != nil {
			return dst[:start], fmt.Errorf("ingest: compressing a batch: %w", err)
		}
		if err := w.Close(); err != nil {
			return dst[:start], fmt.Errorf("ingest: compressing a batch: %w", err)
		}
		dst = out.Bytes()
	}
	h := dst[b : b+kafkaconn.BatchHeaderBytes]
	binary.BigEndian.PutUint64(h[0:], 0)                                           // base offset (the broker assigns it)
	binary.BigEndian.PutUint32(h[kafkaconn.BatchLengthAt:], uint32(len(dst)-b-12)) // batch length
	binary.BigEndian.PutUint32(h[12:], 0xffffffff)                                 // partition leader epoch: -1
	h[kafkaconn.BatchMagicAt] = 2                                                  // magic
	binary.BigEndian.PutUint16(h[kafkaconn.BatchAttributesAt:], uint16(c)&7)       // attributes
	binary.BigEndian.PutUint32(h[kafkaconn.BatchLastOffsetDeltaAt:], uint32(n-1))  // last offset delta
	binary.BigEndian.PutUint64(h[27:], uint64(first))                              // first timestamp
	binary.BigEndian.PutUint64(h[35:], uint64(maxTS))                              // max timestamp
	binary.BigEndian.PutUint64(h[43:], 0xffffffffffffffff)                         // producer id: -1
	binary.BigEndian.PutUint16(h[51:], 0xffff)                                     // producer epoch: -1
	binary.BigEndian.PutUint32(h[53:], 0xffffffff)                                 // base sequence: -1
	binary.BigEndian.PutUint32(h[kafkaconn.BatchRecordsAt:], uint32(n))            // records
	binary.BigEndian.PutUint32(h[kafkaconn.BatchCRCAt:], kafkaconn.BatchCRC(dst[b:]))
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-b)) // the record set's size
	return dst, nil
}

// varintLen is the length of v as a Kafka (zig-zag) varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
