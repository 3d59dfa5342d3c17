package dirlock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdEnv names the directory a child test process locks and holds until
// it is killed (TestTakeoverAfterKill).
const holdEnv = "DIRLOCK_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		if _, err := Acquire(dir, "test.lock"); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		select {} // until killed
	}
	os.Exit(m.Run())
}

// wantHeld fails unless err is a HeldError for dir naming pid.
func wantHeld(t *testing.T, err error, dir string, pid int) *HeldError {
	t.Helper()
	var he *HeldError
	if !errors.As(err, &he) || !errors.Is(err, ErrHeld) {
		t.Fatalf("got %v, want the lock held", err)
	}
	msg := err.Error()
	if he.Dir != dir || he.PID != pid || strings.Contains(msg, "\n") ||
		!strings.HasPrefix(msg, "data directory "+dir+" is in use by pid "+strconv.Itoa(pid)+" (") ||
		!strings.HasSuffix(msg, "); stop it or use another --data-dir") {
		t.Fatalf("got %q (dir %q, pid %d), want one line naming %s and pid %d", msg, he.Dir, he.PID, dir, pid)
	}
	return he
}

// TestAcquireTwice: a second lock on a held directory, even from this
// process, is refused with the holder's PID and command line; once
// released it is taken again.
func TestAcquireTwice(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by Acquire
	l, err := Acquire(dir, "x.lock")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "x.lock")
	he := wantHeld(t, err, dir, os.Getpid())
	if !strings.HasPrefix(he.Command, filepath.Base(os.Args[0])+" ") {
		t.Errorf("holder command %q, want this test binary's command line", he.Command)
	}
	if l2, err := Acquire(dir, "y.lock"); err != nil { // another file: another lock
		t.Fatal(err)
	} else {
		l2.Release()
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l.Release() // twice is harmless
	if b, _ := os.ReadFile(filepath.Join(dir, "x.lock")); len(b) != 0 {
		t.Errorf("released lock file still names a holder: %q", b)
	}
	l, err = Acquire(dir, "x.lock")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l.Release()
}

// TestOnePathOneLock: a relative path and a symbolic link to the
// directory lead to the same lock.
func TestOnePathOneLock(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	l, err := Acquire(dir, "x.lock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	for _, p := range []string{link, "./link", "data", "./data/../data"} {
		_, err := Acquire(p, "x.lock")
		wantHeld(t, err, p, os.Getpid())
	}
}

// TestTakeoverAfterKill: a child process holds the lock; while it lives the
// lock is refused naming it; after kill -9 the lock is taken over and the
// file names the new holder.
func TestTakeoverAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "held\n" {
		t.Fatalf("the child: %q, %v", line, err)
	}
	_, err = Acquire(dir, "test.lock")
	wantHeld(t, err, dir, cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := Acquire(dir, "test.lock")
	if err != nil {
		t.Fatalf("after kill -9 of the holder: %v", err)
	}
	defer l.Release()
	b, _ := os.ReadFile(filepath.Join(dir, "test.lock"))
	if pid, _, _ := strings.Cut(string(b), "\n"); pid != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file %q, want this process's PID", b)
	}
}

// TestNotWritable: a directory the process cannot write, or a path that is
// a file, is an error that names the directory.
func TestNotWritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, readOnlyDir(t)} {
		_, err := Acquire(dir, "x.lock")
		if err == nil || errors.Is(err, ErrHeld) || !strings.HasPrefix(err.Error(), "data directory "+dir+": ") {
			t.Errorf("Acquire(%s): %v, want an error naming it", dir, err)
		}
		t.Log(err)
	}
}

// readOnlyDir is a directory this process cannot create files in: mode
// 0555, or for root (who writes any mode) one made immutable by chattr.
func readOnlyDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		return dir
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("running as root, and chattr +i failed (%v: %s): no read-only directory to test", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	return dir
}

// TestCommandLine: secrets stay out of the lock file.
func TestCommandLine(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"/usr/bin/emostream up --http 127.0.0.1:8080", "emostream up --http 127.0.0.1:8080"},
		{"emostream hub --leaf-password s3cret --nats x", "emostream hub --leaf-password *** --nats x"},
		{"emostream hub --admin-token=s3cret", "emostream hub --admin-token=***"},
		{"emostream leaf --remote nats-leaf://leaf:s3cret@hub:7422,nats-leaf://leaf:pw2@h2:1", "emostream leaf --remote nats-leaf://leaf:***@hub:7422,nats-leaf://leaf:***@h2:1"},
		{"emostream x\nline", "emostream x line"},
		{"e " + strings.Repeat("a", 300), "e " + strings.Repeat("a", maxCommand-3) + "…"},
	} {
		if got := commandLine(strings.Split(c.args, " ")); got != c.want {
			t.Errorf("commandLine(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// wait for a holder that has not yet written its record: the message says
// "another process" rather than a PID of nobody.
func TestHolderWithoutRecord(t *testing.T) {
	dir := t.TempDir()
	f, held, err := lockFile(filepath.Join(dir, "x.lock"))
	if err != nil || held {
		t.Fatal(held, err)
	}
	defer f.Close()
	start := time.Now()
	_, err = Acquire(dir, "x.lock")
	if err == nil || !strings.Contains(err.Error(), "in use by another process; stop it") {
		t.Fatalf("got %v", err)
	}
	t.Logf("%v after %v", err, time.Since(start))
}

// A record that cannot be written (a full disk) keeps the lock, with an
// empty file: a server restarted on a full disk still starts, and a second
// Acquire is refused as held by another process.
func TestRecordFailureKeepsTheLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "test.lock")
	if err := os.WriteFile(path, []byte("123\nold holder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeRecord = func(*os.File) error { return syscall.ENOSPC }
	defer func() { writeRecord = record }()
	l, err := Acquire(dir, "test.lock")
	if err != nil {
		t.Fatalf("Acquire with the record failing: %v", err)
	}
	defer l.Release()
	if b, err := os.ReadFile(path); err != nil || len(b) != 0 {
		t.Fatalf("lock file %q (%v), want it empty: a dead holder's record would mislead", b, err)
	}
	_, err = Acquire(dir, "test.lock")
	var he *HeldError
	if !errors.As(err, &he) || he.PID != 0 || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Acquire: %v, want held by another process", err)
	}
}
