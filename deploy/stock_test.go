//go:build chaos

package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// stockServer is one stock nats-server process.
type stockServer struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// startStock runs the stock nats-server binary with -c conf until the test
// ends (or kill).
func startStock(t testing.TB, binary, conf string) *stockServer {
	t.Helper()
	s := &stockServer{name: strings.TrimSuffix(filepath.Base(conf), ".conf"), log: conf + ".log"}
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(binary, "-c", conf)
	s.cmd.Dir = filepath.Dir(conf)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", s.name, s.failureLog())
		}
	})
	return s
}

// kill is kill -9, then wait; safe to call more than once.
func (s *stockServer) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// failureLog is the server's log for a failed test: every line but the
// retries of a route to a killed member (one a second per route, which
// would bury the elections and warnings), at most its last 64 KiB.
func (s *stockServer) failureLog() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return err.Error()
	}
	var keep []string
	retries := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "connect to route") {
			retries++
			continue
		}
		keep = append(keep, line)
	}
	out := strings.Join(keep, "\n")
	if len(out) > 64<<10 {
		out = "…" + out[len(out)-64<<10:]
	}
	return fmt.Sprintf("%s\n(%d lines of route retries left out)", out, retries)
}

// TestHubClusterStockServer runs the same files on the stock nats-server
// binary of go.mod's version: the 3-member hub and leaf cluster b, the
// streams and the registry at 3 replicas made by the stages' code, a real
// processor, and kill -9 of the member leading EMOSTREAM_SWARMS while
// windows are published. Every window is stored once with its exact
// counts, and viewers on both leaf servers receive every window published
// after their leaf moved. Behind the chaos tag: it builds the binary and
// waits for the stock cluster's first meta leader (about 30s in all).
func TestHubClusterStockServer(t *testing.T) {
	binary := testenv.BuildNATSServer(t)
	f := newClusterFiles(t)
	f.AddStagesUser(t, harnessUser)
	hubs := map[string]*stockServer{}
	for _, name := range hubMembers {
		s := startStock(t, binary, f.Path(name))
		hubs[s.name] = s
	}
	urls := f.HubURLs()
	for i, u := range urls {
		testenv.WaitFor(t, 60*time.Second, hubMembers[i]+" taking clients", func() bool {
			c, err := net.Dial("tcp", strings.TrimPrefix(u, "nats://"))
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	r := newClusterRig(t, urls)
	for _, name := range leafMembers {
		startStock(t, binary, f.Path(name))
	}
	ws := f.LeafWebSockets()
	var viewers []*clusterViewer
	for _, u := range ws {
		testenv.WaitFor(t, 30*time.Second, "the leaf's WebSocket port", func() bool {
			nc, err := nats.Connect(u)
			if err == nil {
				nc.Close()
			}
			return err == nil
		})
		viewers = append(viewers, r.watch(u))
	}
	r.processor()
	r.windows(0, 5)
	r.exact(viewers)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := r.harness.Stream(ctx, wire.SwarmsStream)
	if err != nil {
		t.Fatal(err)
	}
	victim := hubs[info.CachedInfo().Cluster.Leader]
	if victim == nil {
		t.Fatalf("EMOSTREAM_SWARMS leader %q is no member", info.CachedInfo().Cluster.Leader)
	}
	r.across("kill -9 "+victim.name+", the EMOSTREAM_SWARMS leader", viewers, victim.kill, func() int {
		n := 0
		for name, s := range hubs {
			if s != victim {
				n += leafConns(t, f, name)
			}
		}
		return n
	})
}

// leafConns is how many leafnode connections member hub-N has, from its
// /leafz; -1 if it does not answer.
func leafConns(t testing.TB, f *testenv.ClusterConfs, member string) int {
	var i int
	if _, err := fmt.Sscanf(member, "hub-%d", &i); err != nil || i < 1 || i > len(hubMembers) {
		t.Fatalf("no member %q", member)
	}
	res, err := http.Get(f.HubMonitor(i-1) + "/leafz")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	var leafz struct {
		Leafs int `json:"leafnodes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&leafz); err != nil {
		return -1
	}
	return leafz.Leafs
}
