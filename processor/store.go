package processor

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// swarmStore reads and writes the swarm stream.
type swarmStore struct {
	js       jetstream.JetStream
	stream   jetstream.Stream
	maxBytes int // MaxSwarmBytes
}

// load reads the last swarm of one match.
func (s *swarmStore) load(ctx context.Context, match string) (*matchState, error) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, wire.SwarmSubject(match))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return newMatchState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the last swarm of %s: %w", match, err)
	}
	sw, err := wire.DecodeSwarm(raw.Data)
	if err != nil {
		return nil, fmt.Errorf("reading the last swarm of %s: %w", match, err)
	}
	return stateOf(sw, raw.Sequence), nil
}

// publish starts storing sw after the match's swarm at lastSeq. The stream
// refuses it if the match's subject moved past lastSeq, or if the window
// was already stored (same Nats-Msg-Id).
func (s *swarmStore) publish(sw *wire.Swarm, lastSeq uint64) (jetstream.PubAckFuture, error) {
	data, err := sw.Encode()
	if err != nil {
		return nil, fmt.Errorf("%w: swarm %s: %w", errUnencodable, sw.MsgID(), err)
	}
	if len(data) > s.maxBytes {
		return nil, fmt.Errorf("%w: swarm %s is %d bytes, over the bound of %d", ErrTooLarge, sw.MsgID(), len(data), s.maxBytes)
	}
	msg := nats.NewMsg(wire.SwarmSubject(sw.MatchID))
	msg.Data = data
	f, err := s.js.PublishMsgAsync(msg, jetstream.WithMsgID(sw.MsgID()),
		jetstream.WithExpectLastSequencePerSubject(lastSeq))
	if streams.IsTooLarge(err) {
		err = fmt.Errorf("%w: swarm %s (%d bytes): %w", ErrTooLarge, sw.MsgID(), len(data), err)
	}
	return f, err
}

// wait waits for the acknowledgement of sw's publish. A refusal because
// another swarm of the match got there first is errConflict.
func wait(ctx context.Context, f jetstream.PubAckFuture, sw *wire.Swarm) (*jetstream.PubAck, error) {
	select {
	case ack := <-f.Ok():
		if ack.Duplicate {
			return ack, errConflict
		}
		return ack, nil
	case err := <-f.Err():
		if streams.IsConflict(err) {
			return nil, errConflict
		}
		if streams.IsTooLarge(err) {
			return nil, fmt.Errorf("swarm %s: %w: %w", sw.MsgID(), ErrTooLarge, err)
		}
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
