package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sync/errgroup"
)

// syncer makes what the broker wrote durable with one pass of fsyncs shared
// by every caller waiting at the time: group commit for the disk. A pass
// fsyncs each file under the data directory whose size changed since the
// last pass (and a directory that gained files), in parallel, so the file
// system can fold them into one journal commit.
type syncer struct {
	dir string

	mu      sync.Mutex
	running bool
	waiters []chan error

	// owned by the pass loop
	sizes map[string]int64
}

func newSyncer(dir string) *syncer {
	return &syncer{dir: dir, sizes: map[string]int64{}}
}

// Sync returns once a pass that started after the call has finished.
func (s *syncer) Sync(ctx context.Context) error {
	ch := make(chan error, 1)
	s.mu.Lock()
	s.waiters = append(s.waiters, ch)
	if !s.running {
		s.running = true
		go s.loop()
	}
	s.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *syncer) loop() {
	for {
		s.mu.Lock()
		w := s.waiters
		s.waiters = nil
		if len(w) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		err := s.pass()
		for _, ch := range w {
			ch <- err
		}
	}
}

// pass fsyncs every changed file and every directory that gained entries.
func (s *syncer) pass() error {
	var changed []string
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked (segment cleanup)
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if prev, seen := s.sizes[path]; !seen || prev != info.Size() {
			if !seen {
				changed = append(changed, filepath.Dir(path))
			}
			s.sizes[path] = info.Size()
			changed = append(changed, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: sync: %w", err)
	}
	return fsyncAll(dedupe(changed))
}

func dedupe(paths []string) []string {
	seen := make(map[string]bool, len(paths))
	out := paths[:0]
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func fsyncAll(paths []string) error {
	var g errgroup.Group
	g.SetLimit(16)
	for _, p := range paths {
		g.Go(func() error { return fsync(p) })
	}
	return g.Wait()
}

func fsync(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("broker: sync: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("broker: sync %s: %w", path, err)
	}
	return nil
}
