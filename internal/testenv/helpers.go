package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildBinary builds the emostream binary into a new temp dir, for a test
// package's TestMain (what names the package in the dir and the error). It
// returns the binary's path and a cleanup that removes the dir.
func BuildBinary(what string) (binary string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "emostream-"+what+"-")
	if err != nil {
		return "", nil, err
	}
	binary = filepath.Join(dir, "emostream")
	build := exec.Command("go", "build", "-o", binary, "github.com/emostream/emostream/cmd/emostream")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("%s: building emostream: %w", what, err)
	}
	return binary, func() { os.RemoveAll(dir) }, nil
}

// BusyAddr holds a loopback port until the test ends and returns its
// address: a listen address that is taken.
func BusyAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// BuildNATSServer builds the stock nats-server binary of go.mod's
// nats-server version (the one embedded by emostream hub and leaf) into a
// temp dir of t and returns its path.
func BuildNATSServer(t testing.TB) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "nats-server")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		t.Fatalf("building the stock nats-server: %v\n%s", err, out)
	}
	return binary
}

// Background runs run in a goroutine until the test ends or cancel is
// called; at cleanup it cancels and waits for run to return. An error from
// run fails the test, named by what. done is closed when run returned.
func Background(t testing.TB, what string, run func(ctx context.Context) error) (cancel func(), done <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		if err := run(ctx); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-ch })
	return cancel, ch
}
