package ingest

import (
	"time"

	"github.com/emostream/emostream/wire"
)

// partition owns the buffer of one Kafka partition. Its goroutine starts a
// produce as soon as the previous one completed (group commit), and also
// while one is in flight when a batch is full, its oldest event has waited
// FlushInterval, or a window boundary passed since that event arrived.
type partition struct {
	p  *producer
	id int
	in chan *request
}

// queue is the partition goroutine's state.
type queue struct {
	sealed   [][]*request // full batches waiting for an in-flight slot
	open     []*request
	bytes    int   // size of open
	oldest   int64 // receive time of open[0], Unix ms
	inflight int
	closing  bool
}

func (w *partition) run() {
	var q queue
	done := make(chan struct{}, w.p.cfg.MaxInFlight)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	in := w.in
	for in != nil || q.inflight > 0 || len(q.open) > 0 || len(q.sealed) > 0 {
		select {
		case r, ok := <-in:
			if !ok {
				in, q.closing = nil, true
				break
			}
			w.add(&q, r)
			if !w.drain(&q, in) {
				in, q.closing = nil, true
			}
		case <-done:
			q.inflight--
		case <-timer.C:
		}
		w.start(&q, done)
		w.arm(timer, &q)
	}
}

// drain takes whatever else is already queued, so it joins this batch. It
// returns false if it found the queue closed.
func (w *partition) drain(q *queue, in chan *request) bool {
	for range cap(in) {
		select {
		case r, ok := <-in:
			if !ok {
				return false
			}
			w.add(q, r)
		default:
			return true
		}
	}
	return true
}

func (w *partition) add(q *queue, r *request) {
	if len(q.open) > 0 && q.bytes+r.size() > w.p.cfg.MaxBatchBytes {
		q.sealed = append(q.sealed, q.open)
		q.open, q.bytes = nil, 0
	}
	if len(q.open) == 0 {
		q.oldest = r.receivedAt
	}
	q.open = append(q.open, r)
	q.bytes += r.size()
}

// start sends every batch that is due while in-flight slots are free.
func (w *partition) start(q *queue, done chan<- struct{}) {
	for q.inflight < w.p.cfg.MaxInFlight {
		b := w.next(q)
		if b == nil {
			return
		}
		q.inflight++
		go w.send(b, done)
	}
}

func (w *partition) next(q *queue) []*request {
	if len(q.sealed) > 0 {
		b := q.sealed[0]
		q.sealed = q.sealed[1:]
		return b
	}
	if len(q.open) == 0 {
		return nil
	}
	if q.inflight == 0 || q.closing || !w.p.cfg.Now().Before(w.deadline(q)) {
		b := q.open
		q.open, q.bytes = nil, 0
		return b
	}
	return nil
}

// deadline is when the open batch must go: its oldest event's flush
// interval, or the end of that event's window, whichever is first.
func (w *partition) deadline(q *queue) time.Time {
	flush := time.UnixMilli(q.oldest).Add(w.p.cfg.FlushInterval)
	end := time.UnixMilli(wire.WindowStart(q.oldest, w.p.windowMs) + w.p.windowMs)
	if end.Before(flush) {
		return end
	}
	return flush
}

// arm sets the timer for the open batch's deadline, if it is waiting.
func (w *partition) arm(t *time.Timer, q *queue) {
	if len(q.open) == 0 {
		t.Stop()
		return
	}
	t.Reset(max(w.deadline(q).Sub(w.p.cfg.Now()), 0))
}

func (w *partition) send(b []*request, done chan<- struct{}) {
	err := w.p.write(w.id, b)
	for _, r := range b {
		w.p.release(int64(len(r.ends)))
		r.finish(err)
	}
	done <- struct{}{}
}
