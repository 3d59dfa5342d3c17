package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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

func newEmbedded(opts *server.Options, log *slog.Logger) (*embedded, error) {
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("fanout: nats-server options: %w", err)
	}
	srv.SetLoggerV2(slogAdapter{log}, opts.Debug, opts.Trace, false)
	return &embedded{opts: opts, srv: srv, log: log}, nil
}

// Start starts the server once and waits until it accepts connections.
func (e *embedded) Start() error {
	e.once.Do(func() {
		go e.srv.Start()
		if !e.srv.ReadyForConnections(startTimeout) {
			e.srv.Shutdown()
			e.start = fmt.Errorf("%w within %s", ErrNotReady, startTimeout)
		}
	})
	return e.start
}

// Run starts the server if needed, blocks until ctx ends, then shuts it down.
func (e *embedded) Run(ctx context.Context) error {
	if err := e.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-e.done():
		return fmt.Errorf("fanout: %s stopped on its own", e.srv.Name())
	}
	e.Shutdown()
	return nil
}

// done is closed when the server has shut down.
func (e *embedded) done() <-chan struct{} {
	ch := make(chan struct{})
	go func() { e.srv.WaitForShutdown(); close(ch) }()
	return ch
}

// Shutdown stops the server and waits for it; safe to call more than once.
func (e *embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
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
