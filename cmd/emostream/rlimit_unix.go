//go:build unix

package main

import "syscall"

// raiseFileLimit raises the soft open-file limit to the hard limit, so
// connections, Kafka and NATS share every descriptor the system allows.
// (The Go runtime does the same on some systems; this makes it explicit,
// and reported.)
func raiseFileLimit() fileLimit {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fileLimit{}
	}
	fl := fileLimit{known: true, before: uint64(r.Cur), soft: uint64(r.Cur), hard: uint64(r.Max)}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if fl.err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); fl.err == nil {
			fl.soft = uint64(r.Max)
		}
	}
	return fl
}
