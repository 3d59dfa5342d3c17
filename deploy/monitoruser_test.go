//go:build chaos

package deploy

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
)

// TestMonitorUserStockServer: the read-only user "monitor" of nats.conf
// on the stock nats-server binary (its password from
// EMOSTREAM_MONITOR_PASSWORD) reads with the NATS CLI and is refused every
// change, as on the embedded hub (TestMonitorUser, cmd/emostream). Behind
// the chaos tag, as every test that builds the stock binary.
func TestMonitorUserStockServer(t *testing.T) {
	bin := testenv.RequireTool(t, "nats", testenv.NATSCLIInstall)
	binary := testenv.BuildNATSServer(t)
	f := newClusterFiles(t) // the copies with random ports, the secrets set
	startStock(t, binary, f.Path("../nats.conf"))
	url := f.HubURLs()[0] // nats.conf listens on hub-1.conf's client port
	testenv.WaitFor(t, 30*time.Second, "the stock hub taking clients", func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "nats://"))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	creds := func(user string) []nats.Option {
		return []nats.Option{nats.UserInfo(user, testenv.StagePassword(user))}
	}
	fx := testenv.NewMonitorFixture(t, url, creds)
	testenv.CheckMonitorUser(t, bin, url, testenv.StagePassword("monitor"), fx)
}
