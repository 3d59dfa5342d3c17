package natsconn

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// ErrInboxesRefused is the error of a connection whose server refused its
// subscription to its own reply inboxes: every request on it would go
// unanswered, and waiting does not cure it (Permanent).
var ErrInboxesRefused = errors.New("the NATS server refused this connection's reply inboxes")

// InboxesRefused returns the option that watches a connection with reply
// inbox prefix for the server refusing it a subscription there (a
// permissions violation), and calls cancel with ErrInboxesRefused, why
// and the server's words when it does: a request waiting for its answer
// ends at once instead of at its timeout. It replaces any ErrorHandler
// given before it.
func InboxesRefused(prefix, why string, cancel context.CancelCauseFunc) nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) &&
			strings.Contains(strings.ToLower(err.Error()), strings.ToLower(prefix)+".") {
			cancel(fmt.Errorf("%w (%s.>: %v): %s", ErrInboxesRefused, prefix, err, why))
		}
	})
}
