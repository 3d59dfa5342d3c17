package natsconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Backoff bounds of Until.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	// waitLogEvery is how often Until says it is still waiting.
	waitLogEvery = 5 * time.Second
)

// Until calls try until it succeeds, ctx ends, or it fails with an error
// that waiting cannot cure (permanent says which; nil: none). Between
// attempts it backs off from 100 ms to 5 s, and it logs a warning naming
// what it waits for at the first failure and then every 5 s, so a stage
// started while its servers are down starts anyway and catches up when
// they return. waiting, if set, is told the error while it waits and nil
// once try succeeded (a stage's readiness).
func Until(ctx context.Context, log *slog.Logger, what string, permanent func(error) bool,
	waiting func(error), try func(context.Context) error) error {
	var lastLog time.Time
	start := time.Now()
	for backoff := firstBackoff; ; backoff = min(2*backoff, maxBackoff) {
		err := try(ctx)
		if err == nil {
			if !lastLog.IsZero() {
				log.Info("reached "+what, "after", time.Since(start).Round(time.Millisecond))
			}
			if waiting != nil {
				waiting(nil)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if permanent != nil && permanent(err) {
			return err
		}
		if waiting != nil {
			waiting(err)
		}
		if time.Since(lastLog) >= waitLogEvery {
			log.Warn("waiting for "+what, "err", err, "retry_in", backoff)
			lastLog = time.Now()
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Permanent reports the connection errors that waiting cannot cure: wrong
// credentials, a refused TLS setup, refused reply inboxes
// (ErrInboxesRefused). A server that is down or still starting is not one
// of them.
func Permanent(err error) bool {
	return errors.Is(err, ErrInboxesRefused) || errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrNkeysNotSupported) ||
		errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted)
}

// Waiting is why a stage's Run is not working yet, for its Ready: the
// error Until last failed with, after For; nil once Until succeeded. Set
// is Until's waiting func. Safe for concurrent use.
type Waiting struct {
	// For says what is waited for: "bridge: waiting for NATS and its stream".
	For string
	err atomic.Pointer[error]
}

// Set records err as why Run waits; nil means it no longer does.
func (w *Waiting) Set(err error) {
	if err == nil {
		w.err.Store(nil)
		return
	}
	err = fmt.Errorf("%s: %w", w.For, err)
	w.err.Store(&err)
}

// Err is why Run waits, nil when it does not.
func (w *Waiting) Err() error {
	if e := w.err.Load(); e != nil {
		return *e
	}
	return nil
}
