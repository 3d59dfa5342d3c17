package ingest

import (
	"io"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/wire"
)

// request is one POST's events on their way to Kafka. Requests are pooled:
// whoever finishes last with one releases it.
type request struct {
	events     []wire.Event
	buf        []byte    // every record's key then value, back to back
	ends       []recEnds // where each record's key and value end in buf
	receivedAt int64     // Unix ms, the records' timestamp
	done       chan error
	wait       bool           // a handler waits on done (AckAll)
	users      map[string]int // scratch for the per-user rate limit
}

type recEnds struct{ key, val int }

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

// encode builds the records of r.events received at receivedAt.
func (r *request) encode(receivedAt int64) {
	r.receivedAt = receivedAt
	for i := range r.events {
		ev := &r.events[i]
		r.buf = append(r.buf, ev.UserID...)
		k := len(r.buf)
		rec := ev.Record(receivedAt)
		r.buf = rec.AppendJSON(r.buf)
		r.ends = append(r.ends, recEnds{key: k, val: len(r.buf)})
	}
}

// size is the request's approximate share of a produce request in bytes.
func (r *request) size() int { return len(r.buf) + 16*len(r.ends) }

// finish hands the produce result to the waiting handler, or releases r.
func (r *request) finish(err error) {
	if r.wait {
		r.done <- err
		return
	}
	releaseRequest(r)
}

// batchReader yields the records of several requests as one record batch,
// without allocating per record.
type batchReader struct {
	reqs     []*request
	ri, ei   int
	rec      kafka.Record
	key, val bytesReader
}

var _ kafka.RecordReader = (*batchReader)(nil)

// ReadRecord implements kafka.RecordReader; the record is valid until the
// next call.
func (b *batchReader) ReadRecord() (*kafka.Record, error) {
	for b.ri < len(b.reqs) && b.ei >= len(b.reqs[b.ri].ends) {
		b.ri, b.ei = b.ri+1, 0
	}
	if b.ri == len(b.reqs) {
		return nil, io.EOF
	}
	r := b.reqs[b.ri]
	start := 0
	if b.ei > 0 {
		start = r.ends[b.ei-1].val
	}
	e := r.ends[b.ei]
	b.ei++
	b.key.b, b.val.b = r.buf[start:e.key], r.buf[e.key:e.val]
	b.rec = kafka.Record{Time: time.UnixMilli(r.receivedAt), Key: &b.key, Value: &b.val}
	return &b.rec, nil
}

// reset rewinds the reader for a retry.
func (b *batchReader) reset() { b.ri, b.ei = 0, 0 }

// count is the number of records.
func (b *batchReader) count() int {
	n := 0
	for _, r := range b.reqs {
		n += len(r.ends)
	}
	return n
}

// bytesReader is kafka-go's protocol.Bytes over a slice.
type bytesReader struct{ b []byte }

func (r *bytesReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (r *bytesReader) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.b)
	r.b = r.b[n:]
	return int64(n), err
}

func (r *bytesReader) Len() int     { return len(r.b) }
func (r *bytesReader) Close() error { return nil }
