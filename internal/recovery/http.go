package recovery

import (
	"log/slog"
	"net/http"
)

// HTTP wraps a net/http handler: a panic in it is logged and counted; a
// response not yet begun becomes 500 {"error":{"code":"internal",…}}, one
// already begun is cut (the connection is closed, so the client sees it
// incomplete).
func HTTP(log *slog.Logger, component string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer Recover(log, component, func() {
			if tw.wrote {
				panic(http.ErrAbortHandler) // net/http closes the connection without a log line of its own
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(InternalError + "\n"))
		})
		h.ServeHTTP(tw, r)
	})
}

// InternalError is the body of the 500 that a recovered panic answers.
const InternalError = `{"error":{"code":"internal","message":"internal error"}}`

// trackingWriter notes whether the response has begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends what is buffered, if the connection's writer can.
func (w *trackingWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
