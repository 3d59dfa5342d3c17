package natsconn

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
)

// TestStateLog: a stage says when its hub is gone, keeps saying so while
// it stays gone, and says when it is back.
func TestStateLog(t *testing.T) {
	n := testenv.StartNATS(t)
	var logs testenv.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	opts := append(StateLog(log, 20*time.Millisecond), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	n.Server.Shutdown()
	testenv.WaitFor(t, 10*time.Second, "a lost and a still-down warning", func() bool {
		s := logs.String()
		return strings.Contains(s, `level=WARN msg="NATS connection lost`) && strings.Contains(s, `level=WARN msg="NATS still down`)
	})
	n.Restart()
	testenv.WaitFor(t, 10*time.Second, "a reconnected line", func() bool {
		return strings.Contains(logs.String(), `level=INFO msg="NATS reconnected"`)
	})
	nc.Close()
}
