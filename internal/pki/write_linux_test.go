package pki_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/emostream/emostream/internal/pki"
)

// TestWriteFailsWhole: a file that cannot be written whole (here past
// the file-size limit, as on a full disk) leaves nothing of the run, the
// file that failed included, with or without replace; else the next run
// finds a cut key "already there".
func TestWriteFailsWhole(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	limit := old
	limit.Cur = 1 << 10 // Go ignores SIGXFSZ: a write past it fails with EFBIG
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skipf("setting RLIMIT_FSIZE: %v", err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}()
	for _, replace := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "tls")
		big := []pki.File{{"a.pem", []byte("cert"), 0o644}, {"a-key.pem", bytes.Repeat([]byte("k"), 4<<10), 0o600}}
		if _, err := pki.Write(dir, big, replace); err == nil {
			t.Fatalf("replace %v: a file past the size limit written", replace)
		}
		if got := files(t, dir); !slices.Equal(got, nil) {
			t.Errorf("replace %v: a failed write left %q, want nothing", replace, got)
		}
	}
}
