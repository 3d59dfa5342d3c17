package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/internal/dirlock"
)

// ErrNotReady is returned when an embedded server did not accept
// connections within its start timeout.
var ErrNotReady = errors.New("fanout: nats-server not ready")

// startTimeout bounds how long Start waits for the listeners.
const startTimeout = 30 * time.Second

// embedded is one in-process nats-server built from standard options.
type embedded struct {
	opts  *server.Options
	srv   *server.Server
	log   *slog.Logger
	once  sync.Once
	start error
	// fatal receives the first fatal error the server logs while it
	// starts (a listener that cannot bind), which ends its start.
	fatal    chan error
	starting atomic.Bool
	// health is what happens to the server after it started (health.go).
	health
	// lock is the JetStream store's lock, held from start to Shutdown;
	// lockHint is its HeldError's way out (storelock.go).
	lock     atomic.Pointer[dirlock.Lock]
	lockHint string
}

// serverConfig is a HubConfig or a LeafConfig: fields that render to a
// nats-server configuration, or override the options of a ConfigFile.
type serverConfig[C any] interface {
	withDefaults() (C, error)
	render() (string, error)
	override(*server.Options) error
}

// buildOptions is how NewHub and NewLeaf turn cfg, whose ConfigFile is
// file, into server options: without a file, cfg with its defaults
// (validated) rendered to a configuration; with one, the file's options
// with cfg's set fields on top. It returns cfg with its defaults too.
func buildOptions[C serverConfig[C]](cfg C, file string) (C, *server.Options, error) {
	text := ""
	if file == "" {
		var err error
		if cfg, err = cfg.withDefaults(); err != nil {
			return cfg, nil, err
		}
		if text, err = cfg.render(); err != nil {
			return cfg, nil, err
		}
	}
	opts, err := loadOptions(file, text)
	if err != nil {
		return cfg, nil, err
	}
	if file != "" {
		if err := cfg.override(opts); err != nil {
			return cfg, nil, err
		}
	}
	return cfg, opts, nil
}

// orDiscard is log, or a logger that discards when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// loadOptions reads a .conf file, or, if file is empty, the rendered text.
func loadOptions(file, text string) (*server.Options, error) {
	opts := &server.Options{}
	if file != "" {
		if err := opts.ProcessConfigFile(file); err != nil {
			return nil, fmt.Errorf("fanout: loading %s: %w", file, err)
		}
		return opts, nil
	}
	if err := opts.ProcessConfigString(text); err != nil {
		return nil, fmt.Errorf("fanout: built configuration: %w", err)
	}
	return opts, nil
}

// newEmbedded builds the server. generated says its configuration was
// rendered here, not read from a user's file: nats-server's advice about
// the plaintext passwords in it is then noise.
func newEmbedded(opts *server.Options, log *slog.Logger, generated bool) (*embedded, error) {
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("fanout: nats-server options: %w", err)
	}
	e := &embedded{opts: opts, srv: srv, log: log, fatal: make(chan error, 1)}
	e.failed = make(chan struct{})
	e.starting.Store(true)
	var drop []string
	if generated {
		// Random passwords that exist only in memory; plain ws:// on loopback.
		drop = append(drop, "Plaintext passwords detected")
		if isLoopback(opts.Websocket.Host) {
			drop = append(drop, "Websocket not configured with TLS")
		}
	}
	srv.SetLoggerV2(slogAdapter{l: log, fatal: e.fatalf, drop: drop}, opts.Debug, opts.Trace, false)
	return e, nil
}

// Start starts the server once and waits until it accepts connections.
func (e *embedded) Start() error { return e.StartContext(context.Background()) }

// StartContext locks the JetStream store, if any, then starts the server
// once and waits until it accepts connections, it fails (a listen address
// in use: the error says which; a store in use: a dirlock.HeldError), or
// ctx ends; on failure the server is shut down.
func (e *embedded) StartContext(ctx context.Context) error {
	e.once.Do(func() {
		if e.start = e.lockStore(); e.start == nil {
			go e.srv.Start()
			e.start = e.waitReady(ctx)
		}
		e.starting.Store(false)
		if e.start != nil {
			e.Shutdown()
			return
		}
		select {
		case err := <-e.fatal: // logged after waitReady returned, before starting ended
			e.fatalf(err)
		default:
		}
		go e.watch()
	})
	return e.start
}

// fatalf takes a fatal error of the server: while it starts, the start
// fails with the first; after, the server has failed (health.go).
func (e *embedded) fatalf(err error) {
	if e.starting.Load() {
		select {
		case e.fatal <- err:
			return
		default: // the start already fails with an earlier one
		}
	}
	e.fail(fmt.Errorf("%w: %s: %w", ErrFailed, e.name(), err))
}

// name is the server's name for errors.
func (e *embedded) name() string {
	if e.opts.ServerName == "" {
		return "nats-server"
	}
	return e.opts.ServerName
}

// waitReady polls until the server is ready, reports a fatal error, ctx
// ends or startTimeout passes.
func (e *embedded) waitReady(ctx context.Context) error {
	name := e.name()
	deadline := time.Now().Add(startTimeout)
	for !e.srv.ReadyForConnections(20 * time.Millisecond) {
		select {
		case err := <-e.fatal:
			return fmt.Errorf("fanout: starting %s: %w", name, err)
		case <-ctx.Done():
			return fmt.Errorf("fanout: starting %s: %w", name, ctx.Err())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w within %s", ErrNotReady, startTimeout)
		}
	}
	return nil
}

// Run starts the server if needed and blocks until ctx ends or the server
// fails (Failed), then shuts it down. It returns the failure, if any.
func (e *embedded) Run(ctx context.Context) error {
	if err := e.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		e.Shutdown()
		return nil
	case <-e.Failed():
		e.Shutdown()
		return e.Err()
	}
}

// Shutdown stops the server, waits for it and lets its store go; safe to
// call more than once. It is no failure.
func (e *embedded) Shutdown() {
	e.stopping.Store(true)
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.unlockStore()
}

// Server is the running nats-server, for monitoring (Varz, Connz, Leafz).
func (e *embedded) Server() *server.Server { return e.srv }

// MonitorURL is the base URL of the monitoring endpoints, "" if disabled.
func (e *embedded) MonitorURL() string {
	a := e.srv.MonitorAddr()
	if a == nil {
		return ""
	}
	return "http://" + a.String()
}

// url joins a scheme, the configured host and a bound port.
func url(scheme, host string, port int) string {
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}
