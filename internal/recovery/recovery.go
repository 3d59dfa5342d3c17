package recovery

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// MetricName is the counter of recovered panics, labelled by component.
const MetricName = "emostream_panics_total"

// panics is the process's one counter: every stage counts into it, and
// each registry it is registered on serves it.
var panics = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricName,
	Help: "Panics recovered in the handler of one input (request, response stream, message, connection), by component; each failed only its input. Any increase is a bug to fix."},
	[]string{"component"})

// Register registers the counter on reg, with a series at 0 for each of
// components (Declare). Registering it again on the same registry is no
// error. reg must not add labels (prometheus.WrapRegistererWith): the
// counter is the process's, not one instance's, and a family cannot have
// both; a component whose registerer may be wrapped Declares its
// components and leaves the registration to its command.
func Register(reg prometheus.Registerer, components ...string) error {
	Declare(components...)
	err := reg.Register(panics)
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) && are.ExistingCollector == panics {
		return nil
	}
	return err
}

// Declare gives each of components a series at 0, served wherever the
// counter is registered, so that an alert on its increase sees the first
// panic.
func Declare(components ...string) {
	for _, c := range components {
		panics.WithLabelValues(c)
	}
}

// Recover, deferred by the handler of one input, turns a panic into that
// input's failure: it logs the panic and its stack once, counts it under
// component, and calls fail (which may be nil) to fail the input alone. It
// must be deferred directly:
//
//	defer recovery.Recover(log, "ingest_api", func() { … answer 500 … })
func Recover(log *slog.Logger, component string, fail func()) {
	v := recover()
	if v == nil {
		return
	}
	Report(log, component, v)
	if fail != nil {
		fail()
	}
}

// Report logs and counts a panic value recovered elsewhere (by a deferred
// function of the caller's own that must do more than Recover does).
func Report(log *slog.Logger, component string, v any) {
	panics.WithLabelValues(component).Inc()
	if log == nil {
		log = slog.Default()
	}
	log.Error("panic recovered: only this input failed", "handler", component,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
}

// Do runs fn and reports whether it returned without a panic; a panic is
// logged and counted as Recover does.
func Do(log *slog.Logger, component string, fn func()) (ok bool) {
	defer Recover(log, component, nil)
	fn()
	return true
}

// Go runs fn in a new goroutine under Recover: a panic in it is logged and
// counted instead of ending the process.
func Go(log *slog.Logger, component string, fn func()) {
	go Do(log, component, fn)
}

// Func wraps a callback that handles one input, a NATS message handler
// (nats.MsgHandler is a func(*nats.Msg)) or an event loop's callback: a
// panic in it is logged and counted, and fails only that call.
func Func[T any](log *slog.Logger, component string, fn func(T)) func(T) {
	return func(v T) { Do(log, component, func() { fn(v) }) }
}

// Count is how many panics this process recovered in component.
func Count(component string) float64 {
	var m dto.Metric
	_ = panics.WithLabelValues(component).Write(&m)
	return m.GetCounter().GetValue()
}
