package bench

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/emostream/emostream/loadgen"
	"github.com/emostream/emostream/wire"
)

// Defaults of Config, the values its zero fields stand for.
const (
	DefaultDuration          = 10 * time.Second
	MaxDuration              = 10 * time.Minute
	DefaultBatch             = 1
	DefaultConnections       = 64
	DefaultUsers             = 10_000
	DefaultMatches           = 4
	DefaultViewers           = 8
	DefaultViewersPerProcess = 500
	// MaxInProcessViewers is the most viewers run in the bench process when a
	// ViewerCommand is given; more run in child processes.
	MaxInProcessViewers = 16
	// MaxViewers bounds Config.Viewers.
	MaxViewers = 20_000
)

// ErrConfig wraps every problem New finds in a Config.
var ErrConfig = errors.New("bench: invalid config")

// Config describes one benchmark run. The zero value is a valid run: the
// embedded stack on free loopback ports, 10 s per phase of single-event
// POSTs at an unlimited rate over 64 connections, 8 viewers in this process.
type Config struct {
	// Against is the base URL of a running ingest API. Empty means start the
	// embedded stack (package stack) on free loopback ports.
	Against string
	// WebSocketURLs are the running stack's leaf URLs; required with Against.
	WebSocketURLs []string
	// DataDir holds the embedded stack's data. Empty means a temporary
	// directory, removed at the end.
	DataDir string
	// Partitions of the embedded stack's events topic. Zero means the
	// stack's default.
	Partitions int32
	// Window is the embedded stack's counting window; with Against it must
	// equal the running stack's. Zero means wire.DefaultWindow (2 s).
	Window time.Duration

	// Duration is the length of each load phase. Zero means
	// DefaultDuration; at most MaxDuration.
	Duration time.Duration
	// Rate is the pipeline phase's events/s. Zero means unlimited. The
	// ceiling phases always run unlimited, so that they are ceilings.
	Rate float64
	// Batch, Connections, Users and Matches shape the load as in
	// loadgen.Config. Zero means DefaultBatch, DefaultConnections,
	// DefaultUsers, DefaultMatches.
	Batch, Connections, Users, Matches int
	// Viewers is the number of WebSocket viewers, each subscribed to
	// emostream.live.> over its own connection. Zero means DefaultViewers.
	Viewers int
	// ViewerCommand runs a process of viewers (ServeViewers behind it, e.g.
	// "emostream bench-viewers"). Nil means every viewer runs in this
	// process; else more than MaxInProcessViewers run in child processes of
	// up to ViewersPerProcess each.
	ViewerCommand []string
	// ViewersPerProcess is the most viewers per child process. Zero means
	// DefaultViewersPerProcess.
	ViewersPerProcess int
	// SkipCeilings leaves out the ceiling and null-pipeline phases.
	SkipCeilings bool

	// CPUProfile, if set, receives a pprof CPU profile of this process
	// during the pipeline phase.
	CPUProfile io.Writer
	// Progress, if set, is called about once a second during each phase.
	Progress func(phase string, p loadgen.Progress)
	// Logger receives the run's log and the embedded stack's. Nil
	// discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Duration = cmp.Or(c.Duration, DefaultDuration)
	c.Batch = cmp.Or(c.Batch, DefaultBatch)
	c.Connections = cmp.Or(c.Connections, DefaultConnections)
	c.Users = cmp.Or(c.Users, DefaultUsers)
	c.Matches = cmp.Or(c.Matches, DefaultMatches)
	c.Viewers = cmp.Or(c.Viewers, DefaultViewers)
	c.ViewersPerProcess = cmp.Or(c.ViewersPerProcess, DefaultViewersPerProcess)
	c.Window = cmp.Or(c.Window, wire.DefaultWindow)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Duration < 0 || c.Duration > MaxDuration:
		return invalid("duration %v not in (0, %v]", c.Duration, MaxDuration)
	case c.Rate < 0:
		return invalid("rate %v is negative", c.Rate)
	case c.Batch < 1 || c.Batch > loadgen.MaxBatch:
		return invalid("batch %d not in 1..%d", c.Batch, loadgen.MaxBatch)
	case c.Viewers < 1 || c.Viewers > MaxViewers:
		return invalid("viewers %d not in 1..%d", c.Viewers, MaxViewers)
	case c.ViewersPerProcess < 1:
		return invalid("viewers per process %d is not positive", c.ViewersPerProcess)
	case c.Window < 0 || c.Partitions < 0:
		return invalid("window %v and partitions %d may not be negative", c.Window, c.Partitions)
	case c.Against != "" && len(c.WebSocketURLs) == 0:
		return invalid("a run against %s needs the WebSocket URLs of its leaves", c.Against)
	}
	if c.Against != "" {
		if u, err := url.Parse(c.Against); err != nil || u.Host == "" {
			return invalid("against %q is not a URL", c.Against)
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}
