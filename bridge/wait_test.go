package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// TestStartsWhileTheHubIsDown: a bridge started while NATS is down does
// not exit: it reports not-ready, waits, and once the hub is back counts
// every record produced meanwhile, exactly.
func TestStartsWhileTheHubIsDown(t *testing.T) {
	e := newEnv(t, 2)
	e.nats.Server.Shutdown()
	e.nats.Server.WaitForShutdown()
	cfg := e.config(nil)
	cfg.NATSConn, cfg.NATSURL = nil, e.nats.URL
	b, _ := e.startBridge(cfg)
	testenv.WaitFor(t, 10*time.Second, "the bridge to say it waits", func() bool {
		err := b.Ready()
		return err != nil && strings.Contains(err.Error(), "waiting for NATS")
	})
	e.produce(300, true)
	e.nats.Restart()
	e.check(e.waitCovered())
	testenv.WaitFor(t, 10*time.Second, "the bridge ready", func() bool { return b.Ready() == nil })
}
