package processor

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestStartsWhileTheHubIsDown: a processor started while NATS is down does
// not exit: it reports not-ready, waits, and once the hub is back publishes
// swarms that sum exactly to the partials.
func TestStartsWhileTheHubIsDown(t *testing.T) {
	r := newRig(t, 2, streams.Config{})
	r.nats.Server.Shutdown()
	r.nats.Server.WaitForShutdown()
	_, _, p := r.processor(Config{Window: 500 * time.Millisecond, PartitionWait: 100 * time.Millisecond})
	testenv.WaitFor(t, 10*time.Second, "the processor to say it waits", func() bool {
		err := p.Ready()
		return err != nil && strings.Contains(err.Error(), "waiting for NATS")
	})
	r.nats.Restart()
	testenv.WaitFor(t, 10*time.Second, "the processor ready", func() bool { return p.Ready() == nil })
	rng := rand.New(rand.NewPCG(7, 7))
	start := wire.WindowStart(time.Now().UnixMilli(), 500)
	for w := range int64(4) {
		r.window(rng, start+w*500, 500)
	}
	r.exact(30 * time.Second)
}
