package streams

import (
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IsConflict reports whether a publish that expected the last sequence on
// its subject (jetstream.WithExpectLastSequencePerSubject) was refused
// because another message was stored there first: for the bridge, a newer
// owner of the partition (it is fenced); for the processor, a newer swarm
// of the match.
func IsConflict(err error) bool {
	c, ok := apiErrorCode(err)
	return ok && (c == jetstream.JSErrCodeStreamWrongLastSequence ||
		c == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// IsTooLarge reports whether a publish failed because the message exceeds
// the server's max_payload or the stream's maximum message size.
func IsTooLarge(err error) bool {
	if errors.Is(err, nats.ErrMaxPayload) {
		return true
	}
	c, ok := apiErrorCode(err)
	return ok && c == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// apiErrorCode is the JetStream API error code in err's chain.
func apiErrorCode(err error) (jetstream.ErrorCode, bool) {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return 0, false
	}
	return apiErr.ErrorCode, true
}
