package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// Shape of the cluster rig's traffic: partitions, matches, window length.
const (
	rigPartitions = 2
	rigWindow     = 2 * time.Second
)

var rigMatches = []string{"c1", "c2"}

// harnessUser is a user with every permission in the STAGES account, which
// the rig adds to its copy of nats.conf to read the swarm stream back.
const harnessUser = `{user: harness, password: test-harness, allowed_connection_types: ["STANDARD"]}`

// clusterRig drives the pipeline after Kafka on a hub cluster: partials as
// the bridge publishes them, a real processor, and the sums they must add
// up to.
type clusterRig struct {
	t       testing.TB
	urls    []string
	bridge  jetstream.JetStream
	harness jetstream.JetStream
	next    map[int32]int64 // per partition: next Kafka offset
	want    map[string]int64
	t0      int64 // the first window's start, ms
}

// newClusterRig creates the streams and the registry bucket at 3 replicas
// with the stages' own code and users (processor, admin), and checks that
// every member holds a replica.
func newClusterRig(t testing.TB, urls []string) *clusterRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, pjs := stageConn(t, urls, "processor")
	sc := streams.Config{Replicas: 3}
	var err error
	if !testenv.Until(60*time.Second, func() bool {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err = streams.Ensure(actx, pjs, sc)
		return err == nil
	}) {
		t.Fatalf("creating the streams at R3: %v", err)
	}
	_, ajs := stageConn(t, urls, "admin")
	if _, err = registry.Open(ctx, ajs, registry.Config{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	_, hjs := stageConn(t, urls, "harness")
	for _, s := range []string{wire.PartialsStream, wire.SwarmsStream, "KV_" + wire.MatchesBucket} {
		info, err := hjs.Stream(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		ci := info.CachedInfo()
		if ci.Config.Replicas != 3 || ci.Cluster == nil || ci.Cluster.Leader == "" || len(ci.Cluster.Replicas) != 2 {
			t.Fatalf("%s: %d replicas, cluster %+v: want 3, a leader and 2 followers", s, ci.Config.Replicas, ci.Cluster)
		}
	}
	_, bjs := stageConn(t, urls, "bridge")
	now := time.Now().Truncate(rigWindow).UnixMilli()
	return &clusterRig{t: t, urls: urls, bridge: bjs, harness: hjs, next: map[int32]int64{}, want: map[string]int64{}, t0: now}
}

// processor runs a real processor connected to every member until the
// test ends.
func (r *clusterRig) processor() {
	p, err := processor.New(processor.Config{NATSURL: strings.Join(r.urls, ","), Partitions: rigPartitions,
		NATSOptions: []nats.Option{nats.UserInfo("processor", testenv.StagePassword("processor"))}, Window: rigWindow,
		Streams: streams.Config{Replicas: 3}, Logger: testenv.Logger(r.t)})
	if err != nil {
		r.t.Fatal(err)
	}
	testenv.Background(r.t, "processor", p.Run)
}

// windows publishes every partition's partial of windows [from, to), as
// the bridge does: with its message ID, retried until acknowledged.
func (r *clusterRig) windows(from, to int) {
	r.t.Helper()
	for w := from; w < to; w++ {
		start := r.t0 + int64(w)*rigWindow.Milliseconds()
		for p := range int32(rigPartitions) {
			counts := wire.Counts{}
			for i, m := range rigMatches {
				counts.Add(m, "🔥", int64(1+w+i+int(p)))
				r.want[m] += int64(1 + w + i + int(p))
			}
			n := counts.Total()
			pt := &wire.Partial{Topic: wire.DefaultTopic, Partition: p, WindowStartMs: start, WindowMs: rigWindow.Milliseconds(),
				FirstOffset: r.next[p], LastOffset: r.next[p] + n - 1, Counts: counts}
			r.next[p] += n
			r.publish(pt)
		}
	}
}

func (r *clusterRig) publish(pt *wire.Partial) {
	r.t.Helper()
	data, err := json.Marshal(pt)
	if err != nil {
		r.t.Fatal(err)
	}
	var last error
	ok := testenv.Until(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, last = r.bridge.Publish(ctx, wire.PartialSubject(pt.Partition), data, jetstream.WithMsgID(pt.MsgID()))
		return last == nil
	})
	if !ok {
		r.t.Fatalf("publishing partial %s: %v", pt.MsgID(), last)
	}
}

// stored reads EMOSTREAM_SWARMS back: per match, the sum of its swarms'
// counts, and the windows stored more than once. It reads each sequence
// with a direct get, which any current replica answers, and creates no
// consumer: right after a kill -9 the meta leader still counts the killed
// member as live for a few heartbeats and may place a new R1 consumer (an
// ordered consumer's) there, whose creation then never answers, and
// nats.go's ordered consumer retries that same consumer past the read's
// deadline. A replica that lags reads short; exact retries. The stream's
// info is asked for with a 2 s deadline: a request sent while the stream
// has no leader is never answered, and exact asks again sooner.
func (r *clusterRig) stored() (sums map[string]int64, dups []string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ictx, icancel := context.WithTimeout(ctx, 2*time.Second)
	defer icancel()
	s, err := r.harness.Stream(ictx, wire.SwarmsStream)
	if err != nil {
		return nil, nil, err
	}
	state := s.CachedInfo().State
	sums, seen := map[string]int64{}, map[string]bool{}
	for seq := max(state.FirstSeq, 1); seq <= state.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			return nil, nil, fmt.Errorf("reading swarm %d of %d: %w", seq, state.LastSeq, err)
		}
		sw, err := wire.DecodeSwarm(m.Data)
		if err != nil {
			return nil, nil, err
		}
		key := wire.SwarmMsgID(sw.MatchID, sw.WindowStart.UnixMilli())
		if seen[key] {
			dups = append(dups, key)
		}
		seen[key] = true
		sums[sw.MatchID] += sw.Total
	}
	return sums, dups, nil
}

// exact waits until the stored swarms sum to the partials, and checks that
// no window is stored twice and that the viewers saw no window twice.
func (r *clusterRig) exact(viewers []*clusterViewer) {
	r.t.Helper()
	var sums map[string]int64
	var dups []string
	var err error
	ok := testenv.Until(60*time.Second, func() bool {
		sums, dups, err = r.stored()
		return err == nil && equalSums(sums, r.want)
	})
	if !ok {
		r.t.Fatalf("stored swarms sum to %v (%v), want %v", sums, err, r.want)
	}
	if len(dups) > 0 {
		r.t.Fatalf("windows stored twice: %v", dups)
	}
	for _, v := range viewers {
		if d := v.dups(); len(d) > 0 {
			r.t.Errorf("viewer %s: windows delivered twice: %v", v.url, d)
		}
	}
}

func equalSums(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// across publishes windows 5 to 15 right after fault (the first five are
// published before), checks that they are stored exactly, then waits until
// both leaf servers are back (leafConns: the surviving members' leafnode
// connections) and checks that windows 15 to 20 reach every viewer. The
// windows a leaf's hub connection missed while it moved are the viewers'
// gap recovery's (fanout.Watch): they are logged, not failed.
func (r *clusterRig) across(fault string, viewers []*clusterViewer, do func(), leafConns func() int) {
	r.t.Helper()
	r.t.Log(fault)
	t0 := time.Now()
	do()
	r.windows(5, 15)
	r.exact(viewers)
	r.t.Logf("every window stored exactly %v after the fault", time.Since(t0).Round(time.Millisecond))
	for i, v := range viewers {
		r.t.Logf("viewer on %s: %d of %d windows missed across the fault", leafMembers[i], v.missed(r, 5, 15), 10*len(rigMatches))
	}
	testenv.WaitFor(r.t, 30*time.Second, "both leaf servers on a surviving member", func() bool { return leafConns() == len(leafMembers) })
	r.windows(15, 20)
	r.exact(viewers)
	for i, v := range viewers {
		testenv.WaitFor(r.t, 30*time.Second, "viewer on "+leafMembers[i]+" receiving every window after the move",
			func() bool { return v.missed(r, 15, 20) == 0 })
	}
}

// clusterViewer records the swarms a WebSocket viewer of a leaf receives.
type clusterViewer struct {
	url  string
	mu   sync.Mutex
	seen map[string]int // window key → deliveries
	sums map[string]int64
}

func (r *clusterRig) watch(url string) *clusterViewer {
	r.t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(nc.Close)
	v := &clusterViewer{url: url, seen: map[string]int{}, sums: map[string]int64{}}
	if _, err := nc.Subscribe(wire.LiveSubjects, func(m *nats.Msg) {
		s, err := wire.DecodeSwarm(m.Data)
		if err != nil {
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		v.seen[wire.SwarmMsgID(s.MatchID, s.WindowStart.UnixMilli())]++
		v.sums[s.MatchID] += s.Total
	}); err != nil {
		r.t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		r.t.Fatal(err)
	}
	return v
}

func (v *clusterViewer) dups() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for k, n := range v.seen {
		if n > 1 {
			out = append(out, k)
		}
	}
	return out
}

// missed counts the windows [from, to) of every match the viewer did not
// receive.
func (v *clusterViewer) missed(r *clusterRig, from, to int) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for w := from; w < to; w++ {
		for _, m := range rigMatches {
			if v.seen[wire.SwarmMsgID(m, r.t0+int64(w)*rigWindow.Milliseconds())] == 0 {
				n++
			}
		}
	}
	return n
}
