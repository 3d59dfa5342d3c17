package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// ErrClosed is the error of Sync once the broker is closed.
var ErrClosed = errors.New("broker: closed")

// ErrFsyncFailed is the error of every Sync after an fsync of the data
// directory failed: nothing written since the broker started can be
// promised durable until it is restarted.
var ErrFsyncFailed = errors.New("broker: an fsync of the data directory failed; restart the broker (what is on disk is read back)")

// syncer makes what the broker wrote durable with one pass of fsyncs shared
// by every caller waiting at the time: group commit for the disk. A pass
// fsyncs each file under the data directory whose size changed since the
// last pass, each file that is new under its name (created, or renamed
// over an old one) and each directory that gained such a name, in
// parallel, so the file system can fold them into one journal commit.
// A pass that fails before its fsyncs (a directory it cannot list, a file
// it cannot open) fails its callers and leaves what it found to the next
// pass, which fsyncs it whether or not it changed again. A failed fsync is
// final: that pass's callers and every Sync after it get ErrFsyncFailed.
// Linux may drop the dirty pages a failed fsync was writing, so a later
// fsync that succeeds proves nothing about them, and a caller who wrote
// before the failure must not be told its bytes are durable; only a
// restart, which reads the log back from disk, starts afresh.
//
// Every acknowledgement of "emostream up" waits for a pass, so a pass does
// no more than it must: the syncer keeps every file and directory under
// the data directory open (kfake's log: two files per segment of each
// partition, a snapshot per partition, about ten metadata files), lists
// each directory with one getdents call, which names the inode behind
// every name, and asks an unchanged inode's size with fstat on the open
// descriptor: no path lookups and no opens, which cost a quarter of a
// pass in the directory walk it replaces (docs/benchmarks.md, issue 23).
// It holds one descriptor per file of the log, closed with the broker.
type syncer struct {
	dir   string
	fsync func(*os.File) error // (*os.File).Sync; tests record the calls

	mu      sync.Mutex
	running bool
	closed  bool
	broken  error // the first failed fsync, wrapped in ErrFsyncFailed
	waiters []chan error

	// owned by the pass loop
	root *node // nil until the directory exists
	gen  uint64
	buf  []byte // directory listings
}

// node is a file or directory under the data directory, open.
type node struct {
	f        *os.File
	path     string
	ino      uint64
	size     int64            // at the last fsync; -1 before the first
	children map[string]*node // nil for a file
	gen      uint64           // the pass that last saw it
	// failed marks a node a pass found changed but failed before
	// fsyncing: the next pass fsyncs it whether or not it changed again.
	failed bool
}

func newSyncer(dir string) *syncer {
	return &syncer{dir: dir, fsync: (*os.File).Sync}
}

// Sync returns once a pass that started after the call has finished.
func (s *syncer) Sync(ctx context.Context) error {
	ch := make(chan error, 1)
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.broken != nil:
		s.mu.Unlock()
		return s.broken
	}
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

// close lets every open descriptor go, now or when the pass in progress
// ends; Sync fails with ErrClosed from then on.
func (s *syncer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if !s.running {
		s.root.close()
		s.root = nil
	}
}

func (s *syncer) loop() {
	for {
		s.mu.Lock()
		w := s.waiters
		s.waiters = nil
		if len(w) == 0 {
			s.running = false
			if s.closed {
				s.root.close()
				s.root = nil
			}
			s.mu.Unlock()
			return
		}
		broken := s.broken // callers who came in while the failing pass ran
		s.mu.Unlock()
		err := broken
		if err == nil {
			err = s.pass()
		}
		for _, ch := range w {
			ch <- err
		}
	}
}

// pass fsyncs every changed file and every directory that gained a name.
func (s *syncer) pass() error {
	if s.root == nil {
		root, err := openNode(s.dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing written yet
		}
		if err != nil {
			return err
		}
		s.root = root
	}
	s.gen++
	var changed []*node
	if err := s.scan(s.root, &changed); err != nil {
		for _, n := range changed {
			n.failed = true
		}
		return err
	}
	if err := s.fsyncAll(changed); err != nil {
		s.mu.Lock()
		if s.broken == nil {
			s.broken = fmt.Errorf("%w: %w", ErrFsyncFailed, err)
		}
		err = s.broken
		s.mu.Unlock()
		return err
	}
	return nil
}

// scan adds to changed what of directory d must be fsynced, and forgets
// the names d lost.
func (s *syncer) scan(d *node, changed *[]*node) (err error) {
	defer func() {
		if err != nil {
			d.failed = true // it may have gained a name this pass did not fsync
		}
	}()
	if s.buf == nil {
		s.buf = make([]byte, 8<<10)
	}
	ents, err := readDir(d.f, d.path, s.buf)
	if err != nil {
		return fmt.Errorf("broker: sync: listing %s: %w", d.path, err)
	}
	gained := false
	for _, e := range ents {
		n := d.children[e.name]
		if n == nil || n.ino != e.ino || e.ino == 0 && !n.same(e.path) {
			if n, err = openNode(e.path); errors.Is(err, fs.ErrNotExist) {
				continue // removed since the listing
			} else if err != nil {
				return err
			}
			d.children[e.name].close()
			d.children[e.name] = n
			gained = true
		}
		n.gen = s.gen
		if err := s.check(n, changed); err != nil {
			return err
		}
	}
	for name, n := range d.children {
		if n.gen != s.gen { // removed: nothing of it to keep
			n.close()
			delete(d.children, name)
		}
	}
	if gained || d.failed {
		d.failed = false
		*changed = append(*changed, d)
	}
	return nil
}

// check adds file n to changed if its size changed, or scans directory n.
func (s *syncer) check(n *node, changed *[]*node) error {
	if n.children != nil {
		return s.scan(n, changed)
	}
	fi, err := n.f.Stat()
	if err != nil {
		return fmt.Errorf("broker: sync: %w", err)
	}
	if fi.Size() != n.size || n.failed {
		n.size, n.failed = fi.Size(), false // before the fsync, which covers at least this
		*changed = append(*changed, n)
	}
	return nil
}

func openNode(path string) (*node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("broker: sync: %w", err)
	}
	n := &node{f: f, path: path, ino: inode(fi), size: -1}
	if fi.IsDir() {
		n.children = map[string]*node{}
	}
	return n, nil
}

// same reports whether path still names n's file, where directory
// listings do not name inodes.
func (n *node) same(path string) bool {
	a, err1 := n.f.Stat()
	b, err2 := os.Lstat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func (n *node) close() {
	if n == nil {
		return
	}
	for _, c := range n.children {
		c.close()
	}
	n.f.Close()
}

// fsyncAll fsyncs nodes in parallel, at most 16 at a time.
func (s *syncer) fsyncAll(nodes []*node) error {
	if len(nodes) == 1 {
		return s.fsyncOne(nodes[0])
	}
	var (
		wg   sync.WaitGroup
		next = make(chan *node, len(nodes))
		errs = make([]error, min(16, len(nodes)))
	)
	for _, n := range nodes {
		next <- n
	}
	close(next)
	for i := range errs {
		wg.Go(func() {
			for n := range next {
				if err := s.fsyncOne(n); err != nil && errs[i] == nil {
					errs[i] = err
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *syncer) fsyncOne(n *node) error {
	if err := s.fsync(n.f); err != nil {
		return fmt.Errorf("broker: sync %s: %w", n.f.Name(), err)
	}
	return nil
}

// dirent is a name in a directory and the inode behind it (0: unknown).
type dirent struct {
	name, path string
	ino        uint64
}

// rewind puts a directory's read offset back to its start for a new listing.
func rewind(d *os.File) error {
	_, err := d.Seek(0, io.SeekStart)
	return err
}
