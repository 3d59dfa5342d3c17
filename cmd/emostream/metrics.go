package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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
	"github.com/emostream/emostream/internal/recovery"
)

// hostsUsage is the help of --metrics-host (and, for ingest and up, of
// --ops-host): the names the listener of listenFlag answers to.
func hostsUsage(listenFlag string) string {
	return "names (or addresses) the --" + listenFlag + " listener answers to besides its own addresses, localhost and the host name, " +
		"comma-separated (e.g. the name Prometheus scrapes it by); a request with another Host header is refused 403 (DNS rebinding)"
}

// metricsFlags are --metrics and --metrics-host of a stage run alone
// (bridge, processor, edge).
type metricsFlags struct {
	addr, hosts string
	def         string // the stage's default --metrics
}

func addMetricsFlags(fs *flag.FlagSet, def, usage string) *metricsFlags {
	f := &metricsFlags{def: def}
	fs.StringVar(&f.addr, "metrics", def, usage)
	fs.StringVar(&f.hosts, "metrics-host", "", hostsUsage("metrics"))
	return f
}

// metricsServer is a bound --metrics listener and the Hosts it answers.
type metricsServer struct {
	ln    net.Listener
	hosts *hostcheck.Checker
	log   *slog.Logger
}

// listen checks --metrics-host and binds --metrics (see listenMetrics);
// nil when there is none.
func (f *metricsFlags) listen(log *slog.Logger, fs *flag.FlagSet) (*metricsServer, error) {
	names, err := hostcheck.ParseNames(f.hosts)
	if err != nil {
		return nil, fmt.Errorf("--metrics-host %w", err)
	}
	ln, err := listenMetrics(log, f.addr, f.def, given(fs)["metrics"])
	if err != nil || ln == nil {
		return nil, err
	}
	return &metricsServer{ln: ln, hosts: hostcheck.New(ln.Addr(), names), log: log}, nil
}

// listenMetrics binds a stage's --metrics address; nil for none. A taken
// default address (a hot standby on the same host) is a warning, and the
// stage runs without metrics; a taken address given explicitly is an error.
func listenMetrics(log *slog.Logger, addr, def string, explicit bool) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if addr == def && !explicit && errors.Is(err, syscall.EADDRINUSE) {
		log.Warn("the default metrics address is taken (another instance on this host?): running without /metrics, /healthz and /readyz; give --metrics another address",
			"addr", addr)
		return nil, nil
	}
	return nil, listenError("metrics", addr, err)
}

// serve serves reg at /metrics until ctx ends. With ready set, it also
// serves /healthz (200 while the process runs) and /readyz (503 with
// ready's error while it fails). Only Hosts that name the listener are
// answered, and a panic in a handler (component in emostream_panics_total)
// fails only its request.
func (m *metricsServer) serve(ctx context.Context, component string, reg *prometheus.Registry, ready func() error) error {
	if err := recovery.Register(reg, component); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if ready != nil {
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, nil, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, ready(), "ready") })
	}
	return serveHTTP(ctx, m.ln, recovery.HTTP(m.log, component, m.hosts.Handler(mux)))
}

// stageRegistry is the metrics registry of a stage run alone, with the Go
// and process collectors.
func stageRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return reg
}

// runBeside runs the stage (run) until ctx ends or either fails, serving
// m beside it when there is one (see serve).
func (m *metricsServer) runBeside(ctx context.Context, component string, reg *prometheus.Registry, ready func() error, run func(context.Context) error) error {
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

// serveHTTP serves h on ln until ctx ends.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	recovery.Declare("pprof") // served with the stage's metrics
	h := recovery.HTTP(log, "pprof", hostcheck.New(ln.Addr(), nil).Handler(mux))
	go serveHTTP(ctx, ln, h) //nolint:errcheck // ends with ctx
	return "http://" + ln.Addr().String(), nil
}
