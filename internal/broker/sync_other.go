//go:build !linux

package broker

import (
	"os"
	"path/filepath"
)

// readDir lists directory d (at path). Its names carry no inode: the
// syncer compares each with its open file instead (node.same).
func readDir(d *os.File, path string, _ []byte) ([]dirent, error) {
	if err := rewind(d); err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	ents := make([]dirent, len(names))
	for i, n := range names {
		ents[i] = dirent{name: n, path: filepath.Join(path, n)}
	}
	return ents, nil
}

// inode is 0: unknown here.
func inode(os.FileInfo) uint64 { return 0 }
