//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package dirlock

import "os"

// lockFile opens path, creating it. Here there is no lock that the kernel
// drops when its holder dies, so none is enforced: the file only records
// the last process that opened the directory.
func lockFile(path string) (f *os.File, held bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	return f, false, err
}
