package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
)

var (
	hubMembers  = testenv.HubMembers
	leafMembers = testenv.LeafMembers
)

// newClusterFiles copies the cluster files with random ports and sets
// what they read from the environment.
func newClusterFiles(t *testing.T) *testenv.ClusterConfs {
	t.Helper()
	f := testenv.CopyClusterConfs(t, ".", nil)
	setConfSecrets(t)
	f.SetEnv(t)
	return f
}

// startHubCluster starts the three members from the copies, in-process,
// and waits for a JetStream meta leader.
func startHubCluster(t *testing.T, f *testenv.ClusterConfs) []*fanout.Hub {
	t.Helper()
	hubs := make([]*fanout.Hub, len(hubMembers))
	errs := make(chan error, len(hubMembers))
	for i, name := range hubMembers {
		h, err := fanout.NewHub(fanout.HubConfig{ConfigFile: f.Path(name), Logger: testenv.Logger(t)})
		if err != nil {
			t.Fatalf("emostream hub -c %s: %v", name, err)
		}
		hubs[i] = h
		t.Cleanup(h.Shutdown)
		go func() { errs <- h.Start() }()
	}
	for range hubs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 30*time.Second, "a JetStream meta leader", func() bool { return metaLeader(hubs) != nil })
	return hubs
}

// metaLeader is the member leading the JetStream meta group, or nil.
func metaLeader(hubs []*fanout.Hub) *fanout.Hub {
	for _, h := range hubs {
		if h.Server().Running() && h.Server().JetStreamIsLeader() {
			return h
		}
	}
	return nil
}

// streamLeader is the member leading stream of account STAGES, or nil.
func streamLeader(hubs []*fanout.Hub, stream string) *fanout.Hub {
	for _, h := range hubs {
		if h.Server().Running() && h.Server().JetStreamIsStreamLeader("STAGES", stream) {
			return h
		}
	}
	return nil
}

// stageConn connects as a stage user to every URL of the list, as
// --nats with a comma-separated list does, with opts besides (ingest's
// inbox prefix).
func stageConn(t testing.TB, urls []string, user string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","), append(opts, nats.UserInfo(user, testenv.StagePassword(user)),
		nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// TestHubClusterFiles: deploy/hub-{1,2,3}.conf are nats.conf with their
// own name, listeners and store, plus a cluster block routing to every
// member (the later keys replace nats.conf's, as the files say).
func TestHubClusterFiles(t *testing.T) {
	f := newClusterFiles(t)
	single := loadConf(t, "hub", f.Path("../nats.conf"))
	names := map[string]bool{}
	for i, name := range hubMembers {
		o := loadConf(t, "hub", f.Path(name))
		if settings(o) != settings(single) || len(o.Users) != len(single.Users) || len(o.Accounts) != len(single.Accounts) {
			t.Errorf("%s: settings %+v, %d users, %d accounts; nats.conf has %+v, %d, %d", name,
				settings(o), len(o.Users), len(o.Accounts), settings(single), len(single.Users), len(single.Accounts))
		}
		if names[o.ServerName] || o.ServerName == single.ServerName {
			t.Errorf("%s: server_name %q is not its own", name, o.ServerName)
		}
		names[o.ServerName] = true
		if o.Cluster.Name != "emostream-hub" || len(o.Routes) != len(hubMembers) || o.Cluster.Username == "" {
			t.Errorf("%s: cluster %q with %d routes, user %q: want emostream-hub, a route to every member, credentials",
				name, o.Cluster.Name, len(o.Routes), o.Cluster.Username)
		}
		if got, want := fmt.Sprint(o.Port), f.HubURLs()[i]; !strings.HasSuffix(want, ":"+got) {
			t.Errorf("%s: client port %s, want the member's own %s", name, got, want)
		}
		if !strings.HasSuffix(o.StoreDir, filepath.Join("store", "hub-"+fmt.Sprint(i+1))) {
			t.Errorf("%s: store %s is not the member's own", name, o.StoreDir)
		}
	}
	leafB := loadConf(t, "leaf", f.Path("leaf-b.conf"))
	for _, name := range leafMembers {
		o := loadConf(t, "leaf", f.Path(name))
		if settings(o) != settings(leafB) || len(o.Accounts) != len(leafB.Accounts) || o.Cluster.Name != "leaf-b" ||
			len(o.Routes) != len(leafMembers) || len(o.LeafNode.Remotes) != 1 || len(o.LeafNode.Remotes[0].URLs) != len(hubMembers) {
			t.Errorf("%s: settings %+v, cluster %q, %d routes, remotes %v; want leaf-b.conf's (%+v), cluster leaf-b, every server and hub member",
				name, settings(o), o.Cluster.Name, len(o.Routes), o.LeafNode.Remotes, settings(leafB))
		}
	}
}

// TestHubClusterCountsExactly runs the 3-member hub and the 2-server leaf
// cluster from the deploy/ files (in-process), the streams and the match
// registry at 3 replicas created by the stages' own code, a real processor
// connected to every member, and partials published as the bridge does. It
// stops the member leading EMOSTREAM_SWARMS in the middle; viewers on both
// leaf servers must still see every window once, their counts exactly the
// partials'.
func TestHubClusterCountsExactly(t *testing.T) {
	f := newClusterFiles(t)
	f.AddStagesUser(t, harnessUser)
	hubs := startHubCluster(t, f)
	urls := f.HubURLs()
	r := newClusterRig(t, urls)
	var ws []string
	for _, name := range leafMembers {
		l, err := fanout.NewLeaf(fanout.LeafConfig{ConfigFile: f.Path(name), Logger: testenv.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Shutdown)
		ws = append(ws, l.WebSocketURL())
	}
	viewers := []*clusterViewer{r.watch(ws[0]), r.watch(ws[1])}
	r.processor()
	r.windows(0, 5)
	r.exact(viewers)

	victim := streamLeader(hubs, "EMOSTREAM_SWARMS")
	if victim == nil {
		t.Fatal("no EMOSTREAM_SWARMS leader")
	}
	r.across("stopping "+victim.Server().Name()+", the EMOSTREAM_SWARMS leader", viewers, victim.Shutdown, func() int {
		n := 0
		for _, h := range hubs {
			if h != victim {
				n += h.Server().NumLeafNodes()
			}
		}
		return n
	})
	if l := streamLeader(hubs, "EMOSTREAM_SWARMS"); l == nil || l == victim {
		t.Error("no new EMOSTREAM_SWARMS leader")
	}
}

// TestHubClusterFilesTLS: the member files' "#TLS " lines (and nats.conf's,
// which they read) load when turned on, the example PEM files replaced by
// test ones, and give the client, leafnode and cluster ports TLS that
// verifies the peer's certificate.
func TestHubClusterFilesTLS(t *testing.T) {
	f := newClusterFiles(t)
	certs := testenv.NewCerts(t)
	tlsOn := strings.NewReplacer("#TLS ", "", "/etc/emostream/ca.pem", certs.CAFile,
		"/etc/emostream/hub.pem", certs.ServerCertFile, "/etc/emostream/hub-key.pem", certs.ServerKeyFile)
	for _, name := range append([]string{"../nats.conf"}, hubMembers...) {
		b, err := os.ReadFile(f.Path(name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "#TLS ") {
			t.Fatalf("%s: no #TLS lines", name)
		}
		if err := os.WriteFile(f.Path(name), []byte(tlsOn.Replace(string(b))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range hubMembers {
		o := loadConf(t, "hub", f.Path(name))
		if !verifies(o.TLSConfig) || !verifies(o.LeafNode.TLSConfig) || !verifies(o.Cluster.TLSConfig) {
			t.Errorf("%s: want TLS verifying certificates on the client, leafnode and cluster ports", name)
		}
	}
}
