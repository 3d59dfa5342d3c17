package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// slogAdapter lets nats-server log through slog.
type slogAdapter struct {
	l *slog.Logger
	// fatal, if set, takes every fatal error instead of the log: the
	// server's owner fails its start or its run with it (embedded.fatalf).
	fatal func(error)
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

// Fatalf hands the error to fatal, whose owner returns it: logged once, by
// whoever gets the error. nats-server's own logger would exit the process.
func (a slogAdapter) Fatalf(format string, v ...any) {
	if a.fatal != nil {
		a.fatal(fmt.Errorf(format, v...))
		return
	}
	a.log(slog.LevelError, format, v)
}

func (a slogAdapter) Errorf(format string, v ...any) { a.log(slog.LevelError, format, v) }
func (a slogAdapter) Debugf(format string, v ...any) { a.log(slog.LevelDebug, format, v) }
func (a slogAdapter) Tracef(format string, v ...any) { a.log(slog.LevelDebug-4, format, v) }
