// Package timeline reads the timeline stream (wire.TimelineStream): the
// processor when it rebuilds a match's rollups, ingest when it answers
// GET /v1/matches/{id}/timeline; and the registry follows its bucket's
// stream with it. Reads are JetStream batched direct gets, so a reader
// needs no consumer and holds one batch at a time.
package timeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/wire"
)

// Batch is how many messages one direct get asks for.
const Batch = 500

// batchBytes bounds one batch's payload.
const batchBytes = 1 << 20

// ErrUnavailable wraps every failure to read the stream.
var ErrUnavailable = errors.New("timeline: stream unreachable")

// Reader reads one stream with direct gets.
type Reader struct {
	nc      *nats.Conn
	stream  string
	timeout time.Duration
}

// NewReader reads stream (wire.TimelineStream or wire.SwarmsStream) over
// nc; each request waits at most timeout (zero: 5s).
func NewReader(nc *nats.Conn, stream string, timeout time.Duration) *Reader {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Reader{nc: nc, stream: stream, timeout: timeout}
}

// Msg is one stored message.
type Msg struct {
	Seq     uint64
	Subject string      // the subject it was stored under
	Header  nats.Header // its headers, and the direct get's (Nats-Sequence, ...)
	Data    []byte
}

// Last returns the last message on subject, or a zero Msg if there is none.
func (r *Reader) Last(ctx context.Context, subject string) (Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	m, err := r.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+r.stream+"."+subject, nil)
	if err != nil {
		return Msg{}, fmt.Errorf("%w: last of %s: %w", ErrUnavailable, subject, err)
	}
	return reply(m, subject)
}

// First returns the first message on subject, or a zero Msg.
func (r *Reader) First(ctx context.Context, subject string) (Msg, error) {
	return r.Next(ctx, subject, 1)
}

// Next returns the first message on subject at stream sequence seq or
// later, or a zero Msg.
func (r *Reader) Next(ctx context.Context, subject string, seq uint64) (Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, _ := json.Marshal(map[string]any{"seq": max(seq, 1), "next_by_subj": subject})
	m, err := r.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+r.stream, req)
	if err != nil {
		return Msg{}, fmt.Errorf("%w: next of %s from %d: %w", ErrUnavailable, subject, seq, err)
	}
	return reply(m, subject)
}

func reply(m *nats.Msg, subject string) (Msg, error) {
	switch m.Header.Get("Status") {
	case "":
	case "404":
		return Msg{}, nil
	default:
		return Msg{}, fmt.Errorf("%w: %s: status %s %s", ErrUnavailable, subject, m.Header.Get("Status"), m.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(m.Header.Get(wire.SeqHeader), 10, 64)
	if err != nil {
		return Msg{}, fmt.Errorf("%w: %s: no sequence in the answer", ErrUnavailable, subject)
	}
	return Msg{Seq: seq, Subject: m.Header.Get("Nats-Subject"), Header: m.Header, Data: m.Data}, nil
}

// Scan calls fn, in stream order, with every message on subject at stream
// sequence from or later, until fn returns false or an error, or the
// subject has no more. It holds one batch (Batch messages, at most 1 MiB)
// at a time.
func (r *Reader) Scan(ctx context.Context, subject string, from uint64, fn func(Msg) (bool, error)) error {
	inbox := r.nc.NewRespInbox()
	sub, err := r.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer sub.Unsubscribe()
	for seq := max(from, 1); ; {
		next, more, err := r.batch(ctx, sub, inbox, subject, seq, fn)
		if err != nil || !more {
			return err
		}
		seq = next
	}
}

// batch asks for one batch from seq and hands its messages to fn; it
// returns the sequence to go on from and whether to go on.
func (r *Reader) batch(ctx context.Context, sub *nats.Subscription, inbox, subject string, seq uint64,
	fn func(Msg) (bool, error)) (uint64, bool, error) {
	req, _ := json.Marshal(map[string]any{"seq": seq, "next_by_subj": subject, "batch": Batch, "max_bytes": batchBytes})
	if err := r.nc.PublishRequest("$JS.API.DIRECT.GET."+r.stream, inbox, req); err != nil {
		return 0, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	wanted, got := true, 0
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return 0, false, fmt.Errorf("%w: reading %s: %w", ErrUnavailable, subject, err)
		}
		switch m.Header.Get("Status") {
		case "404":
			return 0, false, nil
		case "204": // end of batch
			pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return seq, wanted && pending > 0 && got > 0, nil
		}
		msg, err := reply(m, subject)
		if err != nil {
			return 0, false, err
		}
		got++
		seq = msg.Seq + 1
		if wanted {
			if wanted, err = fn(msg); err != nil {
				return 0, false, err
			}
		}
	}
}
