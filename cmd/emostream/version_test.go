package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionStamped: a binary built without VCS information (as from a
// source tarball, or a Docker build context without .git) prints the
// version and commit that -ldflags -X stamped, as scripts/build-image.sh
// and Containerfile stamp them (issue 21: it printed "(devel) commit
// (unknown)", since nothing declared main.version and main.commit).
func TestVersionStamped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "emostream")
	// Not -trimpath, as the image builds: the test's own build cache then
	// serves every package but main.
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin,
		"-ldflags", "-s -w -X main.version=v9.9.9-test -X main.commit=0123456789abcdef0123456789abcdef01234567", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "version")
	cmd.Env = withoutEmostreamVars()
	out, err := cmd.CombinedOutput()
	want := "emostream v9.9.9-test commit 0123456789abcdef0123456789abcdef01234567 go1."
	if err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("version: %v, %q; want it to start %q", err, out, want)
	}
}
