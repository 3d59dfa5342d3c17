package broker

import (
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a syncer's fsync that records, per pass, each file's path and
// its size when it was fsynced.
type recorder struct {
	mu     sync.Mutex
	synced map[string]int64
}

func (r *recorder) fsync(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.synced[f.Name()] = fi.Size()
	r.mu.Unlock()
	return f.Sync()
}

// TestSyncCoversWhatWasWritten: after Sync returns, every file written
// before the call was fsynced at least at its size then, and every
// directory that gained a name since the last pass was fsynced: a new
// partition directory, a segment rolled into an existing one, a file
// renamed over another of the same size (kfake's snapshots and
// metadata); nothing unchanged is fsynced again.
func TestSyncCoversWhatWasWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kafka")
	s := newSyncer(dir)
	rec := &recorder{}
	s.fsync = rec.fsync
	p0, p1 := filepath.Join(dir, "partitions", "t-0"), filepath.Join(dir, "partitions", "t-1")
	write := func(path, data string, flag int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|flag, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(data); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	steps := []struct {
		name   string
		change func()
		want   map[string]int64 // path → size at its fsync; -1 for a directory
	}{
		{"nothing written yet", func() {}, map[string]int64{}},
		{"first segment of a new partition", func() { write(filepath.Join(p0, "0.dat"), "batch", os.O_APPEND) },
			map[string]int64{dir: -1, filepath.Join(dir, "partitions"): -1, p0: -1, filepath.Join(p0, "0.dat"): 5}},
		{"append", func() { write(filepath.Join(p0, "0.dat"), "more", os.O_APPEND) },
			map[string]int64{filepath.Join(p0, "0.dat"): 9}},
		{"nothing changed", func() {}, map[string]int64{}},
		{"rolled segment", func() {
			write(filepath.Join(p0, "0.dat"), "x", os.O_APPEND)
			write(filepath.Join(p0, "10.dat"), "next", os.O_APPEND)
		}, map[string]int64{p0: -1, filepath.Join(p0, "0.dat"): 10, filepath.Join(p0, "10.dat"): 4}},
		{"partition created after the last pass", func() { write(filepath.Join(p1, "0.dat"), "b", os.O_APPEND) },
			map[string]int64{filepath.Join(dir, "partitions"): -1, p1: -1, filepath.Join(p1, "0.dat"): 1}},
		{"snapshot", func() { write(filepath.Join(p0, "snapshot.json"), "aaaa", os.O_TRUNC) },
			map[string]int64{p0: -1, filepath.Join(p0, "snapshot.json"): 4}},
		{"snapshot renamed over, same size", func() {
			write(filepath.Join(p0, "snapshot.json.tmp"), "bbbb", os.O_TRUNC)
			if err := os.Rename(filepath.Join(p0, "snapshot.json.tmp"), filepath.Join(p0, "snapshot.json")); err != nil {
				t.Fatal(err)
			}
		}, map[string]int64{p0: -1, filepath.Join(p0, "snapshot.json"): 4}},
		{"segment removed", func() { os.Remove(filepath.Join(p0, "0.dat")) }, map[string]int64{}},
		{"segment recreated under the old name", func() { write(filepath.Join(p0, "0.dat"), "0123456789", os.O_APPEND) },
			map[string]int64{p0: -1, filepath.Join(p0, "0.dat"): 10}},
	}
	for _, st := range steps {
		st.change()
		rec.synced = map[string]int64{}
		if err := s.Sync(context.Background()); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := map[string]int64{}
		for p, size := range rec.synced {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				size = -1
			}
			got[p] = size
		}
		if !maps.Equal(got, st.want) {
			t.Errorf("%s: fsynced %v, want %v", st.name, got, st.want)
		}
	}
}

// TestSyncSharedByConcurrentCallers: callers at the same time share passes,
// and each returns only after a pass that saw its write.
func TestSyncSharedByConcurrentCallers(t *testing.T) {
	dir := t.TempDir()
	s := newSyncer(dir)
	rec := &recorder{synced: map[string]int64{}}
	s.fsync = rec.fsync
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			f := filepath.Join(dir, "partitions", "t-0", "0.dat")
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				errs <- err
				return
			}
			fh, err := os.OpenFile(f, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				errs <- err
				return
			}
			fh.WriteString("x")
			fh.Close()
			if err := s.Sync(context.Background()); err != nil {
				errs <- err
				return
			}
			rec.mu.Lock()
			got := rec.synced[f]
			rec.mu.Unlock()
			if got < 1 {
				errs <- errors.New("a caller returned before its write was fsynced")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := rec.synced[filepath.Join(dir, "partitions", "t-0", "0.dat")]; got != 50 {
		t.Errorf("last fsync saw %d bytes, want 50", got)
	}
}

// TestSyncAfterClose: a closed syncer refuses Sync, and its descriptors
// are let go.
func TestSyncAfterClose(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSyncer(dir)
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	root := s.root
	s.close()
	if err := s.Sync(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after close: %v, want ErrClosed", err)
	}
	if _, err := root.f.Stat(); err == nil {
		t.Error("the data directory's descriptor is still open after close")
	}
}

// logWithSegment makes a data directory whose one partition has one
// segment of 5 bytes.
func logWithSegment(t *testing.T) (dir, seg string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "kafka")
	seg = filepath.Join(dir, "partitions", "t-0", "0.dat")
	if err := os.MkdirAll(filepath.Dir(seg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seg, []byte("batch"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, seg
}

// TestSyncFailedFsyncIsFinal: a failed fsync fails its pass's callers
// and every Sync after it, with ErrFsyncFailed naming the file, without
// another fsync: Linux may have dropped the pages it was writing, so a
// later fsync that succeeds would prove nothing about them.
func TestSyncFailedFsyncIsFinal(t *testing.T) {
	dir, seg := logWithSegment(t)
	s := newSyncer(dir)
	rec := &recorder{synced: map[string]int64{}}
	failed := false
	s.fsync = func(f *os.File) error {
		rec.mu.Lock()
		fail := f.Name() == seg && !failed
		failed = failed || fail
		rec.mu.Unlock()
		if fail {
			return errors.New("EIO")
		}
		return rec.fsync(f)
	}
	if err := s.Sync(context.Background()); !errors.Is(err, ErrFsyncFailed) || !strings.Contains(err.Error(), seg) {
		t.Fatalf("first Sync: %v, want ErrFsyncFailed naming %s", err, seg)
	}
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("more")
	f.Close()
	rec.synced = map[string]int64{}
	for range 2 {
		if err := s.Sync(context.Background()); !errors.Is(err, ErrFsyncFailed) || !strings.Contains(err.Error(), seg) {
			t.Errorf("Sync after the failure: %v, want ErrFsyncFailed naming %s", err, seg)
		}
	}
	if len(rec.synced) != 0 {
		t.Errorf("fsynced %v after the failure, want nothing", rec.synced)
	}
}

// TestSyncFailedFsyncFailsThoseWaiting: a caller who called Sync while
// the failing pass ran (its write may be in the range the failed fsync
// was to cover) gets ErrFsyncFailed too, not a pass of its own.
func TestSyncFailedFsyncFailsThoseWaiting(t *testing.T) {
	dir, seg := logWithSegment(t)
	s := newSyncer(dir)
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	fsynced := 0 // fsyncs of seg after the failed one
	first := true
	s.fsync = func(f *os.File) error {
		if f.Name() != seg {
			return f.Sync()
		}
		mu.Lock()
		fail := first
		first = false
		if !fail {
			fsynced++
		}
		mu.Unlock()
		if fail {
			close(started)
			<-release
			return errors.New("EIO")
		}
		return f.Sync()
	}
	errs := make(chan error, 2)
	go func() { errs <- s.Sync(context.Background()) }()
	<-started
	go func() { errs <- s.Sync(context.Background()) }()
	// (testenv.WaitFor's poll; testenv imports this package)
	for deadline, wait := time.Now().Add(10*time.Second), time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		s.mu.Lock()
		waiting := len(s.waiters) == 1
		s.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second caller never waited")
		}
		time.Sleep(wait)
	}
	close(release)
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrFsyncFailed) {
			t.Errorf("Sync: %v, want ErrFsyncFailed", err)
		}
	}
	if fsynced != 0 {
		t.Errorf("%s fsynced %d times after the failure, want 0", seg, fsynced)
	}
}

// TestSyncRetriesWhatAFailedPassFound: a pass that fails before its fsyncs
// (here: a name in a new partition directory it cannot open) fails its
// callers, and the next pass fsyncs what it had found, the directories
// that gained names included, though nothing changed since.
func TestSyncRetriesWhatAFailedPassFound(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kafka")
	parts := filepath.Join(dir, "partitions")
	p1 := filepath.Join(parts, "t-1")
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(parts, "t-0", "0.dat"), "batch")
	s := newSyncer(dir)
	rec := &recorder{synced: map[string]int64{}}
	s.fsync = rec.fsync
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(p1, "0.dat"), "b")
	sock := filepath.Join(p1, "s") // a socket cannot be opened: the pass fails
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix socket here: %v", err)
	}
	rec.synced = map[string]int64{}
	if err := s.Sync(context.Background()); err == nil || errors.Is(err, ErrFsyncFailed) {
		t.Fatalf("Sync with an unopenable name: %v, want a failed pass", err)
	}
	ln.Close()
	os.Remove(sock)
	rec.synced = map[string]int64{}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for p := range rec.synced {
		got[p] = true
	}
	for _, want := range []string{parts, p1, filepath.Join(p1, "0.dat")} {
		if !got[want] {
			t.Errorf("the pass after the failed one fsynced %v, not %s", rec.synced, want)
		}
	}
}
