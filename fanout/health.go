package fanout

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFailed wraps every failure of a hub or leaf after it started (Err).
var ErrFailed = errors.New("fanout: nats-server failed")

// healthInterval is how often a started server's JetStream is checked.
const healthInterval = 250 * time.Millisecond

// health is what became of a started server. It serves until Shutdown, or
// it fails on its own: a fatal error it logs (nats-server's own logger
// would exit the process there), its JetStream turned off under it (a
// store it can no longer write: nats-server logs why and serves on
// without it), or a shutdown that Shutdown did not ask for. A failed
// server stays failed; Run shuts it down and returns Err, and Ready
// reports it until then.
type health struct {
	failed  chan struct{} // closed once failure is set
	once    sync.Once
	failure error
	// stopping is set by Shutdown: what follows is no failure.
	stopping atomic.Bool
}

// fail records the first failure.
func (h *health) fail(err error) {
	h.once.Do(func() { h.failure = err; close(h.failed) })
}

// Failed is closed when the started server has failed; Err says why.
func (h *health) Failed() <-chan struct{} { return h.failed }

// Err is why the server failed, nil while it has not.
func (h *health) Err() error {
	select {
	case <-h.failed:
		return h.failure
	default:
		return nil
	}
}

// Ready is nil while the server has started, serves and has not failed:
// Err once it failed, ErrNotReady before its start and after Shutdown.
func (e *embedded) Ready() error {
	if err := e.Err(); err != nil {
		return err
	}
	if e.stopping.Load() || !e.srv.Running() {
		return fmt.Errorf("%w: %s is not running", ErrNotReady, e.name())
	}
	return nil
}

// watch, started with the server, fails it when it shuts down on its own
// or when its JetStream, on at start, turns off. It returns once the
// server is down.
func (e *embedded) watch() {
	down := make(chan struct{})
	go func() { e.srv.WaitForShutdown(); close(down) }()
	js := e.srv.JetStreamEnabled()
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-down:
			if !e.stopping.Load() {
				e.fail(fmt.Errorf("%w: %s shut down on its own", ErrFailed, e.name()))
			}
			return
		case <-t.C:
			if js && !e.srv.JetStreamEnabled() && !e.stopping.Load() {
				e.fail(fmt.Errorf("%w: %s turned JetStream off (its log says why, e.g. a store it cannot write)", ErrFailed, e.name()))
			}
		}
	}
}
