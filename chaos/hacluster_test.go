//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The hub cluster's stages: three hub members and leaf cluster b's two
// servers, each `emostream hub|leaf -c` of a copy of the deploy/ file.
var (
	haHubs   = []string{"hub-1", "hub-2", "hub-3"}
	haLeaves = []string{"leaf-1", "leaf-2"}
)

// haHarnessUser reads EMOSTREAM_SWARMS back (added to the copy of nats.conf).
const haHarnessUser = `{user: harness, password: test-harness, allowed_connection_types: ["STANDARD"]}`

// haCluster is the pipeline on a hub cluster: kafka, hub-1..3, leaf-1..2,
// then ingest (user admin: it creates auto matches), bridge and processor,
// each with every member's URL and --replicas 3. The viewer is given both
// leaf servers' URLs. With a region, the leaf servers run in it: their
// connections to the hub cross its uplink, the viewer's its viewer link.
type haCluster struct {
	*cluster
	confs *testenv.ClusterConfs
}

func startHACluster(t testing.TB, reg *region) *haCluster {
	t.Helper()
	var hosts map[string]string
	if reg != nil {
		hosts = map[string]string{"7422": reg.UplinkHub, "7432": reg.UplinkHub, "7442": reg.UplinkHub}
		for _, f := range testenv.LeafMembers {
			hosts[f] = reg.ViewLeaf
		}
	}
	c := &haCluster{cluster: newCluster(t), confs: testenv.CopyClusterConfs(t, "../deploy", hosts)}
	c.wrap = map[string][]string{}
	c.confs.AddStagesUser(t, haHarnessUser)
	hubURLs := strings.Join(c.confs.HubURLs(), ",")
	c.natsURL, c.natsOpts = hubURLs, []nats.Option{nats.UserInfo("harness", "test-harness")}
	c.wsURL = strings.Join(c.confs.LeafWebSockets(), ",")
	c.env, c.ready = map[string][]string{}, map[string]func() bool{}
	args := c.args()
	for i, name := range haHubs {
		args[name] = []string{"hub", "-c", c.confs.Path(testenv.HubMembers[i])}
		c.env[name] = c.confs.Env()
		// While the cluster forms, a member cannot be healthy alone: the
		// first start waits for its monitoring port, restarts for /healthz.
		mon := c.confs.HubMonitor(i)
		c.ready[name] = func() bool { return httpStatus(mon+"/varz") == 200 }
	}
	for i, name := range haLeaves {
		args[name] = []string{"leaf", "-c", c.confs.Path(testenv.LeafMembers[i])}
		c.env[name] = c.confs.Env()
		if reg != nil {
			c.wrap[name] = reg.exec()
		}
		mon, ws := c.confs.LeafMonitor(i), c.confs.LeafWebSockets()[i]
		c.ready[name] = func() bool { return leafUp(mon, ws) }
	}
	for stage, user := range map[string]string{stIngest: "admin", stBridge: "bridge", stProcessor: "processor"} {
		a := args[stage]
		a[slices.Index(a, "--nats")+1] = hubURLs
		args[stage] = append(a, "--nats-user", user, "--replicas", "3")
		c.env[stage] = []string{"EMOSTREAM_NATS_PASSWORD=" + testenv.StagePassword(user)}
	}
	c.order = slices.Concat([]string{stKafka}, haHubs, haLeaves, []string{stIngest, stBridge, stProcessor})
	c.launch(c.order[:4], args, 60*time.Second)
	testenv.WaitFor(t, 90*time.Second, "every hub member healthy", c.hubsHealthy)
	for i, name := range haHubs {
		mon := c.confs.HubMonitor(i)
		c.ready[name] = func() bool { return httpStatus(mon+"/healthz") == 200 && c.hubReady() }
	}
	c.launch(c.order[4:], args, 90*time.Second)
	return c
}

func (c *haCluster) hubsHealthy() bool {
	for i := range haHubs {
		if httpStatus(c.confs.HubMonitor(i)+"/healthz") != 200 {
			return false
		}
	}
	return c.hubReady()
}

// leafUp: the leaf server has its hub connection and takes viewers.
func leafUp(mon, ws string) bool {
	var leafz struct {
		Leafs int `json:"leafnodes"`
	}
	if err := getJSON(mon+"/leafz", &leafz); err != nil || leafz.Leafs < 1 {
		return false
	}
	nc, err := nats.Connect(ws, nats.Timeout(2*time.Second))
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

// metaLeader is the stage leading the JetStream meta group, "" if unknown.
func (c *haCluster) metaLeader() string {
	for i := range haHubs {
		var jsz struct {
			Meta struct {
				Leader string `json:"leader"`
			} `json:"meta_cluster"`
		}
		if getJSON(c.confs.HubMonitor(i)+"/jsz", &jsz) == nil && jsz.Meta.Leader != "" {
			return jsz.Meta.Leader
		}
	}
	return ""
}

// streamLeader is the stage leading stream, "" if unknown.
func (c *haCluster) streamLeader(stream string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, stream)
	if err != nil || s.CachedInfo().Cluster == nil {
		return ""
	}
	return s.CachedInfo().Cluster.Leader
}

// viewerLeaf is the leaf server the viewer is connected to.
func (c *haCluster) viewerLeaf(v *viewer) string {
	u := v.nc.ConnectedUrl()
	for i, ws := range c.confs.LeafWebSockets() {
		if sameHostPort(ws, u) {
			return haLeaves[i]
		}
	}
	return ""
}

func sameHostPort(a, b string) bool {
	host := func(u string) string { _, hp, _ := strings.Cut(u, "://"); return hp }
	ha, pa, _ := net.SplitHostPort(host(a))
	hb, pb, _ := net.SplitHostPort(host(b))
	return pa == pb && (ha == hb || ha == "127.0.0.1" && hb == "localhost")
}

// haFault is a kill -9 of the stage that target picks when it is
// injected: the member leading something, or the viewer's leaf server.
type haFault struct {
	name   string
	target func(c *haCluster, v *viewer) string
}

var haFaults = []haFault{
	{"kill -9 the JetStream meta leader", func(c *haCluster, _ *viewer) string { return c.metaLeader() }},
	{"kill -9 the EMOSTREAM_SWARMS leader", func(c *haCluster, _ *viewer) string { return c.streamLeader(wire.SwarmsStream) }},
	{"kill -9 the EMOSTREAM_PARTIALS leader", func(c *haCluster, _ *viewer) string { return c.streamLeader(wire.PartialsStream) }},
	{"kill -9 the viewer's leaf server", func(c *haCluster, v *viewer) string { return c.viewerLeaf(v) }},
}

// newHARun is a run on a hub cluster.
func newHARun(t testing.TB, seed uint64, reg *region) (*run, *haCluster) {
	c := startHACluster(t, reg)
	r := &run{t: t, c: c.cluster, seed: seed, settleFor: 90 * time.Second, rng: rand.New(rand.NewPCG(seed, 1)),
		l: newLedger(c.addr["http"], 60*time.Second)}
	r.v = c.startViewer(r.l)
	return r, c
}

// injectHA kills the fault's target and measures recovery without it:
// from the kill until the viewer received a probe event's swarm sent right
// after. Then it restarts the target and waits until it is healthy again
// (a member: caught up, /healthz).
func (r *run) injectHA(ctx context.Context, c *haCluster, f haFault) {
	r.t.Helper()
	var stage string
	if !testenv.Until(30*time.Second, func() bool { stage = f.target(c, r.v); return stage != "" }) {
		r.t.Fatalf("%s: no target", f.name)
	}
	p := r.c.procs[stage]
	t0 := time.Now()
	p.kill()
	d := r.probe(ctx, t0)
	r.mu.Lock()
	r.recovery = append(r.recovery, d)
	r.mu.Unlock()
	r.t.Logf("%s (%s): a probe reached the viewer %v after the kill", f.name, stage, d.Round(time.Millisecond))
	p.start()
	back := r.c.waitReady(stage, 90*time.Second)
	r.t.Logf("%s (%s): back and healthy %v after its restart", f.name, stage, back.Round(time.Millisecond))
}

// TestHAFaults applies each cluster fault alone, under load, to a fresh
// hub cluster, once per seed (EMOSTREAM_CHAOS_SEEDS, default 1,2), and
// accounts for every event as the single-hub runs do.
func TestHAFaults(t *testing.T) {
	for _, f := range haFaults {
		for _, seed := range seeds(t, "1,2") {
			t.Run(fmt.Sprintf("%s/seed%d", f.name, seed), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				r, c := newHARun(t, seed, nil)
				r.underLoad(ctx, "hub cluster: "+f.name, func() { r.injectHA(ctx, c, f) })
			})
		}
	}
}

// partition cuts the region's uplink under load for hold, then heals it,
// and measures recovery from the heal: until the viewer, connected to a
// leaf in the region all along, received a probe event's swarm (a probe
// every 3s, at most 30).
func (r *run) partition(ctx context.Context, c *haCluster, reg *region, hold time.Duration) {
	r.t.Helper()
	reg.cut()
	r.t.Logf("cut the leaf region off the hub for %v", hold)
	select { // the length of the partition is the fault itself
	case <-time.After(hold):
	case <-ctx.Done():
	}
	reg.heal()
	t0 := time.Now()
	// A window published while a leaf reconnects can miss the viewer (it
	// is counted as missed); probe again until one arrives.
	d := r.probes(ctx, t0, 30, 3*time.Second)
	r.mu.Lock()
	r.recovery = append(r.recovery, d)
	r.mu.Unlock()
	if d < 0 {
		for _, name := range slices.Concat(haLeaves, haHubs) {
			r.t.Logf("%s log ends:\n%s", name, c.procs[name].logTail(15))
		}
		for i := range haHubs {
			r.t.Logf("hub-%d /leafz?subs=1: %s", i+1, httpBody(c.confs.HubMonitor(i)+"/leafz?subs=1"))
		}
		for i := range haLeaves {
			r.t.Logf("leaf-%d /leafz?subs=1: %s\n/routez?subs=1: %s\n/connz?subs=1: %s", i+1,
				httpBody(c.confs.LeafMonitor(i)+"/leafz?subs=1"), httpBody(c.confs.LeafMonitor(i)+"/routez?subs=1"),
				httpBody(c.confs.LeafMonitor(i)+"/connz?subs=1"))
		}
		return
	}
	r.t.Logf("healed: a probe reached the viewer %v later", d.Round(time.Millisecond))
	r.t.Cleanup(func() { // the windows published around the heal, once every one was shown
		for _, p := range []struct {
			name     string
			from, to time.Time
		}{{"during the partition", t0.Add(-hold), t0}, {"in the 10s after the heal", t0, t0.Add(10 * time.Second)}} {
			n, worst := r.v.shownSince(p.from, p.to)
			r.t.Logf("windows published %s, shown by source: %v; the last shown %v after its publish", p.name, n, worst.Round(time.Millisecond))
		}
	})
}

// TestHARegions runs the hub cluster with the leaf cluster in a network
// namespace of its own, a "region" reached over veth pairs (with a 40ms
// netem delay each way where the kernel has netem), and applies, each alone
// under load: a partition of the leaf region from the hub for 15s and its
// heal, and the cluster faults of TestHAFaults across the regions.
func TestHARegions(t *testing.T) {
	faults := []string{"partition the leaf region 15s"}
	for _, f := range haFaults {
		faults = append(faults, f.name)
	}
	for i, name := range faults {
		for _, seed := range seeds(t, "1") {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				reg := newRegion(t, "40ms")
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				r, c := newHARun(t, seed, reg)
				scenario := "regions"
				if reg.delay != "" {
					scenario += " (" + reg.delay + " each way)"
				}
				r.underLoad(ctx, scenario+": "+name, func() {
					if i == 0 {
						r.partition(ctx, c, reg, 15*time.Second)
					} else {
						r.injectHA(ctx, c, haFaults[i-1])
					}
				})
			})
		}
	}
}

// httpBody is a monitoring page, for a failure's log.
func httpBody(url string) string {
	res, err := probeClient.Get(url)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4000))
	return string(b)
}
