package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/wire"
)

// pinHeader names the pin of the client a pinned consumer delivers to.
const pinHeader = "Nats-Pin-Id"

// consumerConfig is the durable consumer shared by every processor. Its
// priority group pins it to one of them; another takes over when the
// pinned one stops pulling for PinnedTTL.
func (p *Processor) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        p.cfg.Consumer,
		Description:    "EmoStream processors: partials merged into swarms",
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        p.cfg.AckWait,
		MaxAckPending:  maxAckPending,
		FilterSubject:  wire.PartialsSubjects,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{DefaultGroup},
		PinnedTTL:      p.cfg.PinnedTTL,
	}
}

// consume pulls partials and hands them to the window owner. It renews its
// pull well within PinnedTTL so that a live processor keeps the pin.
func (p *Processor) consume(ctx context.Context, out chan<- jetstream.Msg) error {
	it, err := p.cons.Messages(jetstream.PullPriorityGroup(DefaultGroup),
		jetstream.PullExpiry(max(time.Second, p.cfg.PinnedTTL/3)), jetstream.PullMaxMessages(500))
	if err != nil {
		return fmt.Errorf("processor: consuming %s: %w", p.cfg.Consumer, err)
	}
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			p.log.Warn("pulling partials", "err", err)
			continue
		}
		select {
		case out <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// receive merges one delivered partial. The first partial under a new pin
// starts a session: this processor has (again) taken over.
func (p *Processor) receive(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		p.bad(msg, err)
		return nil
	}
	if pin := msg.Headers().Get(pinHeader); p.s == nil || pin != p.s.pin {
		if err := p.startSession(ctx, pin); err != nil {
			return err
		}
	}
	p.s.lastMsg, p.s.pending = p.cfg.Now(), meta.NumPending
	p.merge(msg.Data(), meta.Sequence.Stream, meta.Timestamp, msg)
	return nil
}

// startSession drops the windows and match states of any earlier session
// unacknowledged, and merges again, in stream order, every partial the
// consumer delivered without an acknowledgement: those a crashed or
// displaced processor held would otherwise come back only after AckWait,
// out of order. A match's last swarm is read back when a window of the
// session first needs it, not here: a restart costs nothing per match ever
// seen.
func (p *Processor) startSession(ctx context.Context, pin string) error {
	if p.standby {
		p.log.Info("taking over: this processor now holds the partials consumer's pin", "pin", pin)
		p.standby = false
	}
	m := newMerger(p.cfg.Window, p.cfg.PartitionWait, p.parts)
	m.maxOpen, m.started, m.grace = p.cfg.MaxOpenWindows, p.cfg.Now(), p.cfg.RestartGrace
	p.s = &session{pin: pin, m: m, states: newStateCache(p.cfg.MaxMatchStates),
		lastMsg: p.cfg.Now(), replaying: true}
	p.met.states.Set(0)
	p.tlQueue, p.tlSent = nil, nil // a past session's timelines are read back, not trusted from memory
	defer func() { p.s.replaying = false }()
	info, err := p.consumerInfo(ctx)
	if err != nil {
		return err
	}
	from, to := info.AckFloor.Stream+1, info.Delivered.Stream
	p.log.Info("session started", "pin", pin, "replay_from", from, "replay_to", to)
	for seq := from; seq <= to; seq++ {
		if err := p.replay(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// startIfIdle starts a session, before any partial is delivered to this
// processor, if there is none yet and no processor holds the pin:
// the partials a crashed one left unacknowledged are then published now,
// not when they are redelivered after AckWait or when new partials arrive.
// The first partial delivered under a pin starts a new session, which
// replays them again, harmlessly: what is stored is not counted twice.
func (p *Processor) startIfIdle(ctx context.Context) error {
	if p.s != nil {
		return nil
	}
	info, err := p.consumerInfo(ctx)
	if err != nil {
		return err
	}
	for _, g := range info.PriorityGroups {
		if g.PinnedClientID != "" {
			if !p.standby {
				p.log.Info("standby: another processor holds the partials consumer's pin; this one takes over when it stops",
					"pin", g.PinnedClientID, "pinned_ttl", p.cfg.PinnedTTL)
				p.standby = true
			}
			return nil
		}
	}
	if err := p.startSession(ctx, ""); err != nil {
		return err
	}
	return p.closeDue(ctx)
}

// replay merges the partial stored at seq, read straight from the stream.
func (p *Processor) replay(ctx context.Context, seq uint64) error {
	var raw *jetstream.RawStreamMsg
	err := p.read(ctx, fmt.Sprintf("%s to replay partial %d", wire.PartialsStream, seq), func(ctx context.Context) (err error) {
		raw, err = p.partials.GetMsg(ctx, seq)
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("processor: replaying partial %d: %w", seq, err)
	}
	p.merge(raw.Data, seq, raw.Time, nil)
	return p.closeDue(ctx)
}

// consumerInfo reads the partials consumer's state, as read does.
func (p *Processor) consumerInfo(ctx context.Context) (info *jetstream.ConsumerInfo, err error) {
	err = p.read(ctx, "consumer "+p.cfg.Consumer, func(ctx context.Context) (err error) {
		info, err = p.cons.Info(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("processor: reading consumer %s: %w", p.cfg.Consumer, err)
	}
	return info, nil
}

// read calls try until it succeeds, fails with an answer that names what
// is not there (the message: ErrMsgNotFound; the stream or the consumer,
// deleted: no wait brings them back, a restart of the processor creates
// them), or ctx ends; any other error is tried again with natsconn.Until's
// backoff and warning, as a swarm's publish is. On a hub cluster a read
// that gets no answer (no responders, a timeout) is what a member's death
// looks like until the stream or the consumer has a new leader, seconds
// later: returning it would stop the processor. While it waits, Ready
// names what it waits for: the processor counts nothing meanwhile.
func (p *Processor) read(ctx context.Context, what string, try func(context.Context) error) error {
	return natsconn.Until(ctx, p.log, what, notThere, func(err error) {
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
		p.waiting.Set(err)
	}, try)
}

// notThere reports the answers of a read that name what is not there.
func notThere(err error) bool {
	return errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrStreamNotFound)
}

// merge decodes a partial, stored at stored, and merges it into the
// session's windows.
func (p *Processor) merge(data []byte, seq uint64, stored time.Time, ack acker) {
	part, err := wire.DecodePartial(data)
	if err == nil && part.WindowMs != p.cfg.Window.Milliseconds() {
		err = fmt.Errorf("window of %dms, not %v", part.WindowMs, p.cfg.Window)
	}
	if err != nil {
		p.bad(ack, fmt.Errorf("partial %d: %w", seq, err))
		return
	}
	kind := "merged"
	if part.WindowStartMs <= p.s.m.closed {
		kind = "late"
	}
	p.s.m.hear(part.Partition, stored, p.cfg.Now())
	if !p.s.m.add(part, seq, p.cfg.Now(), ack) {
		kind = "redelivered"
	}
	p.met.partials.WithLabelValues(kind).Inc()
}

// bad drops a partial that cannot be merged, so it is not redelivered.
func (p *Processor) bad(ack acker, err error) {
	p.log.Error("dropping a bad partial", "err", err)
	p.met.partials.WithLabelValues("bad").Inc()
	if t, ok := ack.(interface{ Term() error }); ok {
		_ = t.Term()
	}
}
