package natsconn

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultStillDownEvery is how often StateLog repeats its warning while the
// connection stays down.
const DefaultStillDownEvery = 30 * time.Second

// StateLog returns connection options that make a stage say what its NATS
// connection does: a warning when it is lost, another every `every` while
// it stays down (zero means DefaultStillDownEvery), and an info line when
// it is back. Give them before a stage's own options, which may replace
// the handlers.
func StateLog(log *slog.Logger, every time.Duration) []nats.Option {
	if every <= 0 {
		every = DefaultStillDownEvery
	}
	s := &stateLog{log: log, every: every}
	return []nats.Option{nats.DisconnectErrHandler(s.down), nats.ReconnectHandler(s.up), nats.ClosedHandler(s.closed)}
}

// stateLog is the state behind StateLog: when the connection went down,
// and the timer of the next "still down" warning.
type stateLog struct {
	log   *slog.Logger
	every time.Duration
	mu    sync.Mutex
	since time.Time
	timer *time.Timer // nil while connected
}

func (s *stateLog) down(nc *nats.Conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc.IsClosed() || s.timer != nil {
		return
	}
	s.log.Warn("NATS connection lost; reconnecting", "err", err)
	s.since = time.Now()
	s.timer = time.AfterFunc(s.every, s.stillDown)
}

func (s *stateLog) stillDown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer == nil {
		return
	}
	s.log.Warn("NATS still down; reconnecting", "down_for", time.Since(s.since).Round(time.Second))
	s.timer.Reset(s.every)
}

func (s *stateLog) up(nc *nats.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
	s.log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted(), "down_for", time.Since(s.since).Round(time.Millisecond))
}

func (s *stateLog) closed(*nats.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
}

func (s *stateLog) stop() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}
