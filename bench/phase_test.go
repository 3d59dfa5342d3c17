package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/emostream/emostream/loadgen"
)

// A phase against a target whose replies are longer than
// loadgen.MaxReplyBytes counts each as an error instead of reading it.
func TestPhaseRefusesLongReplies(t *testing.T) {
	long := make([]byte, 16*loadgen.MaxReplyBytes)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.Write(long)
	}))
	defer srv.Close()
	cfg := Config{Duration: 200 * time.Millisecond, Connections: 2}.withDefaults()
	rep, err := runPhase(t.Context(), cfg, phase{name: PhaseCeiling, target: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if l := rep.Load; l.Requests == 0 || l.Errors != l.Requests || l.Accepted != 0 {
		t.Fatalf("counts %+v, want every request an error", l.Counts)
	}
}
