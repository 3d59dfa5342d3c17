package chaos

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// newestSegment returns the newest segment file of the partition of the
// broker's data dir that holds the most bytes in its newest segment.
func newestSegment(t testing.TB, dataDir string) (path string, size int64) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dataDir, "kafka", "partitions", "emostream.events-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no partition directories under %s (%v)", dataDir, err)
	}
	for _, d := range dirs {
		segs, _ := filepath.Glob(filepath.Join(d, "*.dat"))
		slices.SortFunc(segs, func(a, b string) int { return baseOffset(a) - baseOffset(b) })
		if len(segs) == 0 {
			continue
		}
		fi, err := os.Stat(segs[len(segs)-1])
		if err == nil && fi.Size() > size {
			path, size = segs[len(segs)-1], fi.Size()
		}
	}
	if path == "" {
		t.Fatalf("no segment files under %s", dataDir)
	}
	return path, size
}

func baseOffset(path string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(path), ".dat"))
	return n
}

// truncateBroker kills the broker, cuts the newest segment of one partition
// in half (as a disk that lost its tail would), restarts it and waits until
// the bridge reports the offset regression, in its
// emostream_bridge_offset_regressions_total metric and in its log, rather
// than waiting silently. It returns the time from the restart to the report.
func truncateBroker(t *testing.T, r *run) time.Duration {
	t.Helper()
	k := r.c.procs[stKafka]
	k.kill()
	seg, size := newestSegment(t, filepath.Join(r.c.dir, "broker"))
	if err := os.Truncate(seg, size/2); err != nil {
		t.Fatal(err)
	}
	t.Logf("truncated %s from %d to %d bytes", seg, size, size/2)
	t0 := time.Now()
	k.start()
	r.c.waitReady(stKafka, 60*time.Second)
	bridge := r.c.procs[stBridge]
	if !testenv.Until(60*time.Second, func() bool {
		return metric(r.c.addr["bridgemet"], "emostream_bridge_offset_regressions_total") > 0
	}) {
		t.Fatalf("no offset regression reported within 60s; bridge log:\n%s", bridge.logTail(30))
	}
	detected := time.Since(t0)
	const said = "kafka log ends before the resume offset"
	if !testenv.Until(10*time.Second, func() bool { // the metric may be scraped before the line is written
		b, _ := os.ReadFile(bridge.log)
		return strings.Contains(string(b), said)
	}) {
		t.Errorf("the bridge's log does not say %q", said)
	}
	t.Logf("regression reported %v after the restart", detected.Round(time.Millisecond))
	r.recovery = append(r.recovery, detected)
	return detected
}

// TestTruncatedLog: every event acked before the truncation was counted
// once, and the bridge reports the regression within seconds.
func TestTruncatedLog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := newRun(t, 11, nil)
	r.l.load(ctx, nil, "pre", 11, 150, 4, 50)
	r.settle(ctx)
	truncateBroker(t, r)
	tl := r.finish("broker log tail truncated while stopped: detection")
	t.Logf("%d acked events were cut from Kafka after they were counted", tl.LostBeforeKafka)
}

// TestTruncatedLogThenLoad goes on after the truncation: events acked after
// the broker came back land on offsets the bridge's last partial already
// covered, and must still be counted once.
func TestTruncatedLogThenLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := newRun(t, 11, nil)
	r.l.load(ctx, nil, "pre", 11, 150, 4, 50)
	r.settle(ctx)
	truncateBroker(t, r)
	r.l.load(ctx, nil, "post", 12, 150, 4, 50)
	r.settleFor = 30 * time.Second
	r.settle(ctx)
	r.finish("broker log tail truncated while stopped, then load")
}
