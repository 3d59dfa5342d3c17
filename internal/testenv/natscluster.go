package testenv

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartNATSCluster starts n embedded nats-servers with JetStream routed into
// one cluster on loopback (fsync on every write, as the hub's files), waits
// for a meta leader, and returns every server's client URL, comma-joined
// (what a stage's --nats takes). They stop when the test ends. A route port
// taken meanwhile by another listener fails a start: it is tried again.
func StartNATSCluster(t testing.TB, n int) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		urls, err := startNATSCluster(t, n)
		if err == nil {
			return urls
		}
		if attempt == 3 {
			t.Fatal(err)
		}
	}
}

func startNATSCluster(t testing.TB, n int) (string, error) {
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats-route://" + FreeAddr()
	}
	var urls []string
	var srvs []*server.Server
	for i := range n {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(routes[i], "nats-route://"))
		p, _ := strconv.Atoi(port)
		opts := &server.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1, NoSigs: true,
			JetStream: true, StoreDir: t.TempDir(), SyncAlways: true,
			Cluster: server.ClusterOpts{Name: "testenv", Host: "127.0.0.1", Port: p}}
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		s, err := server.NewServer(opts)
		if err != nil {
			return "", err
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		srvs = append(srvs, s)
	}
	stop := func() {
		for _, s := range srvs {
			s.Shutdown()
		}
	}
	for _, s := range srvs {
		if !s.ReadyForConnections(30 * time.Second) {
			stop()
			return "", fmt.Errorf("testenv: %s not ready", s.Name())
		}
		urls = append(urls, s.ClientURL())
	}
	if !Until(30*time.Second, func() bool {
		for _, s := range srvs {
			if s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	}) {
		stop()
		return "", fmt.Errorf("testenv: no JetStream meta leader in 30s")
	}
	return strings.Join(urls, ","), nil
}
