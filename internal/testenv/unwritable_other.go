//go:build !linux

package testenv

import "testing"

// setImmutable needs Linux's file attributes.
func setImmutable(t testing.TB, dir string) {
	t.Skipf("%s: root writes anywhere here: run as a user other than root", dir)
}
