package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/internal/hostcheck"
	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/recovery"
)

// Every process's own HTTP listener for /metrics, /healthz, /readyz (and,
// in ingest, the admin API) is --ops, and the extra names it answers to
// --ops-host; --monitor is only ever a nats-server's monitoring port.

// hostsUsage is the help of --ops-host: the names the --ops listener
// answers to.
func hostsUsage() string {
	return "names (or addresses) the --ops listener answers to besides its own addresses, localhost and the host name, " +
		"comma-separated (e.g. the name Prometheus scrapes it by); a request with another Host header is refused 403 (DNS rebinding)"
}

// opsFlags are --ops and --ops-host of a stage run alone (bridge,
// processor, edge), with their old spellings --metrics and --metrics-host.
type opsFlags struct {
	addr, hosts string
	def         string // the stage's default --ops
}

func addOpsFlags(fs *flag.FlagSet, def, usage string) *opsFlags {
	f := addNewOpsFlags(fs, def, usage)
	deprecate(fs, "metrics", "ops")
	deprecate(fs, "metrics-host", "ops-host")
	return f
}

// addNewOpsFlags are --ops and --ops-host of a command that never had
// the old spellings (hub, leaf).
func addNewOpsFlags(fs *flag.FlagSet, def, usage string) *opsFlags {
	f := &opsFlags{def: def}
	fs.StringVar(&f.addr, "ops", def, usage)
	fs.StringVar(&f.hosts, "ops-host", "", hostsUsage())
	return f
}

// serverOpsUsage is the help of --ops of hub and leaf.
const serverOpsUsage = "address of /metrics (this process's go_* and process_* metrics; the NATS server's own: --monitor), /healthz and /readyz (503 once the server failed); empty for none"

// opsServer is a bound --ops listener and the Hosts it answers.
type opsServer struct {
	ln     net.Listener
	hosts  *hostcheck.Checker
	log    *slog.Logger
	limits opsLimits
}

// The cost bounds of an --ops listener's server: how long a client may
// take to send its headers and its whole request, how long an answer may
// take to write (a /metrics of every series), how long a kept-alive
// connection may idle, and the most header bytes it reads.
const (
	opsReadHeaderTimeout = 5 * time.Second
	opsReadTimeout       = 10 * time.Second
	opsWriteTimeout      = 30 * time.Second
	opsIdleTimeout       = 60 * time.Second
	opsMaxHeaderBytes    = 16 << 10
)

// opsLimits are an --ops listener's limits: its guard's (rates and
// connection caps; zero fields are ratelimit's defaults) and its server's
// timeouts (zero: the ops… constants).
type opsLimits struct {
	guard                         ratelimit.GuardConfig
	readHeader, read, write, idle time.Duration
}

// listen checks --ops-host and binds --ops (see bindOps); nil when there
// is none.
func (f *opsFlags) listen(log *slog.Logger, fs *flag.FlagSet) (*opsServer, error) {
	names, err := hostcheck.ParseNames(f.hosts)
	if err != nil {
		return nil, fmt.Errorf("--ops-host %w", err)
	}
	ln, err := bindOps(log, f.addr, f.def, given(fs)["ops"])
	if err != nil || ln == nil {
		return nil, err
	}
	return &opsServer{ln: ln, hosts: hostcheck.New(ln.Addr(), names), log: log}, nil
}

// bindOps binds a stage's --ops address; nil for none. A taken default
// address (a hot standby on the same host) is a warning, and the stage
// runs without it; a taken address given explicitly is an error.
func bindOps(log *slog.Logger, addr, def string, explicit bool) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := listenTCP(addr)
	if err == nil {
		return ln, nil
	}
	if addr == def && !explicit && errors.Is(err, syscall.EADDRINUSE) {
		log.Warn("the default ops address is taken (another instance on this host?): running without /metrics, /healthz and /readyz; give --ops another address",
			"addr", addr)
		return nil, nil
	}
	return nil, listenError("ops", addr, err)
}

// serve serves reg at /metrics until ctx ends. With ready set, it also
// serves /healthz (200 while the process runs) and /readyz (503 with
// ready's error while it fails). Only Hosts that name the listener are
// answered, a panic in a handler (component in emostream_panics_total)
// fails only its request, and m.limits bound what clients cost: a client
// over its rate or the listener's gets 429, a connection over the caps
// 503 (ratelimit.Guard, counted under component).
func (m *opsServer) serve(ctx context.Context, component string, reg *prometheus.Registry, ready func() error) error {
	if err := recovery.Register(reg, component); err != nil {
		return err
	}
	gc := m.limits.guard
	gc.Component = component
	guard, err := ratelimit.NewGuard(gc)
	if err != nil {
		return err
	}
	if err := guard.Register(reg); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if ready != nil {
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, nil, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, ready(), "ready") })
	}
	h := recovery.HTTP(m.log, component, guard.HTTP(m.hosts.Handler(mux)))
	return serveHTTP(ctx, guard.Listener(m.ln), m.limits.server(h))
}

// server is the http.Server of an --ops listener, within l's timeouts.
func (l opsLimits) server(h http.Handler) *http.Server {
	return &http.Server{Handler: h, MaxHeaderBytes: opsMaxHeaderBytes, DisableGeneralOptionsHandler: true, // "OPTIONS *" too meets the guard and the Host check
		ReadHeaderTimeout: cmp.Or(l.readHeader, opsReadHeaderTimeout), ReadTimeout: cmp.Or(l.read, opsReadTimeout),
		WriteTimeout: cmp.Or(l.write, opsWriteTimeout), IdleTimeout: cmp.Or(l.idle, opsIdleTimeout)}
}

// stageRegistry is the metrics registry of a stage run alone, with the Go
// and process collectors.
func stageRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return reg
}

// announce prints where the stage serves its metrics, when it does.
func (m *opsServer) announce(w io.Writer, stage string) {
	if m != nil {
		fmt.Fprintf(w, "%s: metrics on http://%s/metrics\n", stage, m.ln.Addr())
	}
}

// close closes the listener of a stage that failed to start.
func (m *opsServer) close() {
	if m != nil {
		m.ln.Close()
	}
}

// runBeside runs the stage (run) until ctx ends or either fails, serving
// m beside it when there is one (see serve).
func (m *opsServer) runBeside(ctx context.Context, component string, reg *prometheus.Registry, ready func() error, run func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return run(ctx) })
	if m != nil {
		g.Go(func() error { return m.serve(ctx, component, reg, ready) })
	}
	return g.Wait()
}

// writeStatus answers {"status":ok}, or 503 {"status":"failing","error"}.
func writeStatus(w http.ResponseWriter, err error, ok string) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		b, _ := json.Marshal(map[string]string{"status": "failing", "error": err.Error()})
		_, _ = w.Write(append(b, '\n'))
		return
	}
	_, _ = w.Write([]byte(`{"status":"` + ok + `"}` + "\n"))
}

// serveHTTP serves srv on ln until ctx ends.
func serveHTTP(ctx context.Context, ln net.Listener, srv *http.Server) error {
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving %s: %w", ln.Addr(), err)
	}
	return nil
}

// servePprof serves the Go profiles on addr until ctx ends and returns its
// base URL. Like the metrics, it answers only Hosts that name it.
func servePprof(ctx context.Context, log *slog.Logger, addr string) (string, error) {
	ln, err := listenTCP(addr)
	if err != nil {
		return "", fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	recovery.Declare("pprof") // served with the stage's metrics
	h := recovery.HTTP(log, "pprof", hostcheck.New(ln.Addr(), nil).Handler(mux))
	// No WriteTimeout: a CPU profile takes ?seconds to write.
	go serveHTTP(ctx, ln, &http.Server{Handler: h, ReadHeaderTimeout: opsReadHeaderTimeout}) //nolint:errcheck // ends with ctx
	return "http://" + ln.Addr().String(), nil
}
