package bench

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// viewerArg makes the test binary act as "emostream bench-viewers", so the
// child-process viewers are tested as they run.
const viewerArg = "bench-viewers"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == viewerArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		err := ServeViewers(ctx, os.Args[2:], os.Stdin, os.Stdout)
		stop()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A short bench on the embedded stack, with viewers in two child
// processes, measures every phase and figure, and the viewers counted
// exactly the accepted events.
func TestBenchEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	cfg := Config{Duration: 2 * time.Second, Rate: 400, Batch: 5, Connections: 4, Users: 50, Matches: 3,
		Viewers: MaxInProcessViewers + 4, ViewersPerProcess: 10, ViewerCommand: []string{os.Args[0], viewerArg},
		Window: 500 * time.Millisecond, Partitions: 2, Logger: testenv.Logger(t)}
	rep := runBench(t, cfg)
	if len(rep.Phases) != 3 || rep.Phase(PhaseCeiling) == nil || rep.Phase(PhaseNull) == nil {
		t.Fatalf("phases %+v", rep.Phases)
	}
	if rep.Settings.ViewerProcesses != 2 || len(rep.Pipeline.ViewerProcesses) != 2 {
		t.Errorf("viewer processes %d, reports %+v; want 2", rep.Settings.ViewerProcesses, rep.Pipeline.ViewerProcesses)
	}
	for _, p := range rep.Pipeline.ViewerProcesses {
		if p.PeakRSSBytes == 0 || p.PID == os.Getpid() {
			t.Errorf("viewer process stats %+v", p)
		}
	}
	if rep.Ratios.ToCeiling <= 0 || rep.Ratios.ToNullPipeline <= 0 {
		t.Errorf("ratios %+v", rep.Ratios)
	}
	checkPipeline(t, rep)
	dir := t.TempDir()
	if err := rep.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileJSON, FileMarkdown, FileThroughput, FileLatency} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Without a viewer command every viewer runs in the bench process.
func TestBenchInProcessViewers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	cfg := Config{Duration: time.Second, Rate: 200, Batch: 1, Connections: 2, Matches: 2, Viewers: 3,
		Window: 500 * time.Millisecond, Partitions: 2, DisableCeilings: true, Logger: testenv.Logger(t)}
	rep := runBench(t, cfg)
	if len(rep.Phases) != 1 || rep.Settings.ViewerProcesses != 0 || rep.Ratios.ToCeiling != 0 {
		t.Errorf("phases %d, viewer processes %d, ratios %+v", len(rep.Phases), rep.Settings.ViewerProcesses, rep.Ratios)
	}
	checkPipeline(t, rep)
}

// Two benches in a row on the same external Kafka, with a tuned producer
// (lz4, 3 produces in flight): each run's viewers count exactly its
// accepted events, the second's with the first's records on the topic.
func TestBenchExternalKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack twice")
	}
	k := testenv.StartKafka(t, 2)
	for i := range 2 {
		cfg := Config{Duration: time.Second, Rate: 200, Batch: 2, Connections: 2, Matches: 2, Viewers: 2,
			Window: 500 * time.Millisecond, KafkaBrokers: []string{k.Addr()}, DisableCeilings: true,
			Ingest: ingest.Config{Compression: kafka.Lz4, MaxInFlight: 3}, Logger: testenv.Logger(t)}
		rep := runBench(t, cfg)
		checkPipeline(t, rep)
		if t.Failed() {
			t.Fatalf("run %d", i)
		}
	}
}

func runBench(t *testing.T, cfg Config) *Report {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkPipeline checks the pipeline phase's figures against its own counts.
func checkPipeline(t *testing.T, rep *Report) {
	t.Helper()
	ph := rep.Phase(PhasePipeline)
	if ph == nil || ph.Load.Accepted == 0 || ph.Load.Accepted != ph.Load.Events || len(ph.Timeline) == 0 {
		t.Fatalf("pipeline phase %+v", ph)
	}
	p, c := rep.Pipeline, rep.Pipeline.Correctness
	var sum int64
	for m, n := range c.Accepted {
		sum += n
		if c.ViewerMin[m] != n || c.ViewerMax[m] != n {
			t.Errorf("match %s: accepted %d, viewers counted %d..%d", m, n, c.ViewerMin[m], c.ViewerMax[m])
		}
	}
	if sum != ph.Load.Accepted || len(c.Accepted) != rep.Settings.Matches || !c.OK {
		t.Errorf("accepted %v (sum %d) vs loadgen's %d; correctness %+v", c.Accepted, sum, ph.Load.Accepted, c)
	}
	if p.EventToScreen.Count != sum || p.EventToScreen.P50 <= 0 || p.EventToScreen.P99 < p.EventToScreen.P50 {
		t.Errorf("event-to-screen %+v over %d events", p.EventToScreen, sum)
	}
	if p.WindowLag.Count == 0 || len(p.WindowLagCDF) == 0 || len(p.EventToScreenCDF) == 0 || len(p.HTTPCDF) == 0 {
		t.Errorf("lag %+v, CDF points %d %d %d", p.WindowLag, len(p.WindowLagCDF), len(p.EventToScreenCDF), len(p.HTTPCDF))
	}
	if len(p.Stages) == 0 {
		t.Error("no stage metrics from the embedded stack")
	}
	if len(rep.Targets) < 4 || ph.Process.CPUSeconds <= 0 || ph.Process.RSSBytes == 0 {
		t.Errorf("targets %+v, process %+v", rep.Targets, ph.Process)
	}
}
