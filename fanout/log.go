package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats-server/v2/server"
)

// slogAdapter lets nats-server log through slog.
type slogAdapter struct {
	l *slog.Logger
	// fatal, if set, receives the first fatal error without blocking
	// while starting is true: the start fails with it.
	fatal    chan<- error
	starting *atomic.Bool
	// drop are the prefixes of warnings not passed on: nats-server's advice
	// about choices fanout made on purpose in a configuration it rendered.
	drop []string
}

var _ server.Logger = slogAdapter{}

func (a slogAdapter) log(level slog.Level, format string, v []any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	a.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (a slogAdapter) Noticef(format string, v ...any) { a.log(slog.LevelInfo, format, v) }

func (a slogAdapter) Warnf(format string, v ...any) {
	for _, p := range a.drop {
		if strings.HasPrefix(format, p) {
			return
		}
	}
	a.log(slog.LevelWarn, format, v)
}

func (a slogAdapter) Fatalf(format string, v ...any) {
	if a.fatal != nil && a.starting.Load() {
		select {
		case a.fatal <- fmt.Errorf(format, v...):
			return // the start fails with it: logged once, by whoever gets the error
		default:
		}
	}
	a.log(slog.LevelError, format, v)
}

func (a slogAdapter) Errorf(format string, v ...any) { a.log(slog.LevelError, format, v) }
func (a slogAdapter) Debugf(format string, v ...any) { a.log(slog.LevelDebug, format, v) }
func (a slogAdapter) Tracef(format string, v ...any) { a.log(slog.LevelDebug-4, format, v) }
