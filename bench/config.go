package bench

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/setting"
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
	// KafkaBrokers, when set, are an external Kafka (plaintext) the embedded
	// stack uses instead of its embedded broker; its events topic must
	// exist. The bridge then joins a consumer group of this run alone and
	// counts only the records received after it started, so that earlier
	// runs' records on the same topic are not counted again.
	KafkaBrokers []string
	// Ingest tunes the embedded stack's ingest (its Kafka producer:
	// MaxInFlight, MaxBatchBytes, FlushInterval, Compression); the bench
	// turns its rate limits off and fills in the rest.
	Ingest ingest.Config
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
	// DisableCeilings leaves out the ceiling and null-pipeline phases.
	DisableCeilings bool

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

// validate checks c, with its defaults, one rule per setting in field order
// (package setting): its error names the setting and wraps ErrConfig.
func (c Config) validate() error {
	against := true
	if c.Against != "" {
		u, err := url.Parse(c.Against)
		against = err == nil && u.Host != ""
	}
	return setting.First(ErrConfig,
		setting.Check("Against", c.Against, against, "want the base URL of an ingest API, http://host:port"),
		setting.Check("WebSocketURLs", setting.Text(fmt.Sprint(c.WebSocketURLs)), c.Against == "" || len(c.WebSocketURLs) > 0,
			"want the WebSocket URLs of the leaves of the stack at Against"),
		setting.AtLeast("Partitions", c.Partitions, 0),
		setting.Check("KafkaBrokers", setting.Text(fmt.Sprint(c.KafkaBrokers)), c.Against == "" || len(c.KafkaBrokers) == 0,
			"want none with Against: the running stack has its own"),
		setting.Check("Window", c.Window, wire.ValidWindow(c.Window), "want "+wire.WindowRule),
		setting.Between("Duration", c.Duration, 0, MaxDuration),
		setting.Finite("Rate", c.Rate),
		setting.AtLeast("Rate", c.Rate, 0),
		setting.Between("Batch", c.Batch, 1, loadgen.MaxBatch),
		setting.Between("Viewers", c.Viewers, 1, MaxViewers),
		setting.AtLeast("ViewersPerProcess", c.ViewersPerProcess, 1),
	)
}
