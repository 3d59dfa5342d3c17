package broker

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
)

// readDir lists directory d (at path) with getdents, whose records
// (linux_dirent64: inode, offset, record length, type, name) name the
// inode behind each name: no lstat per name. buf is scratch space.
func readDir(d *os.File, path string, buf []byte) ([]dirent, error) {
	if err := rewind(d); err != nil {
		return nil, err
	}
	var ents []dirent
	for {
		n, err := syscall.ReadDirent(int(d.Fd()), buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return ents, nil
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				break // malformed: never from the kernel
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if s := string(name); s != "." && s != ".." {
				ents = append(ents, dirent{name: s, path: filepath.Join(path, s), ino: binary.NativeEndian.Uint64(b[0:8])})
			}
			b = b[reclen:]
		}
	}
}

// inode is the inode number of fi.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
