package dirlock

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// ErrHeld is what errors.Is finds in a HeldError.
var ErrHeld = errors.New("dirlock: directory in use")

// DefaultHint is what a HeldError tells the user to do besides stopping the
// holder, unless the caller names another way.
const DefaultHint = "use another --data-dir"

// maxCommand bounds the command line kept in the lock file, in runes.
const maxCommand = 200

// HeldError says that the directory's lock is held: by another process, or
// by another server of this one.
type HeldError struct {
	// Dir is the directory as given to Acquire.
	Dir string
	// PID is the holder's process id; 0 if its record could not be read.
	PID int
	// Command is the holder's command line, secrets redacted.
	Command string
	// Hint is the way out besides stopping the holder. Empty means
	// DefaultHint.
	Hint string
}

func (e *HeldError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
		if e.Command != "" {
			holder += " (" + e.Command + ")"
		}
	}
	return fmt.Sprintf("data directory %s is in use by %s; stop it or %s", e.Dir, holder, cmp.Or(e.Hint, DefaultHint))
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held lock on a directory.
type Lock struct {
	f    *os.File
	once sync.Once
}

// Acquire creates dir if it is missing and takes the exclusive lock on the
// file name in it, writing this process's PID and command line into the
// file (or leaving it empty if that write fails). If the lock is held, the
// error is a *HeldError that names the holder. Paths that lead to one directory (relative, through symbolic
// links) lead to one lock. A directory this user cannot write is an error
// that says so.
func Acquire(dir, name string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, name)
	f, held, err := lockFile(path)
	switch {
	case held:
		return nil, holder(dir, path)
	case err != nil:
		return nil, fmt.Errorf("data directory %s: cannot lock %s (the directory must be writable by this user): %w", dir, name, err)
	}
	if err := writeRecord(f); err != nil {
		// The record only names the holder for a HeldError: a full disk
		// (a server restarted on it must still start and serve what it
		// stored) or a quota keeps the lock with an empty file, whose
		// holder a HeldError calls "another process".
		f.Truncate(0)
	}
	return &Lock{f: f}, nil
}

// writeRecord is record; tests make it fail as on a full disk.
var writeRecord = record

// Release gives the lock up and empties the file; it may be called more
// than once. The file stays: removing it would let a process that opened it
// meanwhile lock a file that is no longer the directory's.
func (l *Lock) Release() error {
	var err error
	l.once.Do(func() {
		l.f.Truncate(0) // a record of a process that let go would mislead
		err = l.f.Close()
	})
	return err
}

// record writes this process's PID and command line over the file's text,
// which may be a dead holder's.
func record(f *os.File) error {
	text := fmt.Sprintf("%d\n%s\n", os.Getpid(), commandLine(os.Args))
	if _, err := f.WriteAt([]byte(text), 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(text)))
}

// holder reads the record of the lock's holder. A holder that locked the
// file an instant ago may not have written it yet: read a few times.
func holder(dir, path string) *HeldError {
	e := &HeldError{Dir: dir}
	for try := 0; try < 5; try++ {
		if try > 0 {
			time.Sleep(20 * time.Millisecond) // the holder writes right after locking
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return e
		}
		pid, cmd, _ := strings.Cut(string(b), "\n")
		if n, err := strconv.Atoi(pid); err == nil && n > 0 {
			e.PID, e.Command = n, strings.TrimSuffix(cmd, "\n")
			return e
		}
	}
	return e
}

// secretFlag matches the flags whose value is a secret.
var secretFlag = regexp.MustCompile(`(?i)password|token|secret|credential`)

// urlPassword matches the password of a URL's user info.
var urlPassword = regexp.MustCompile(`(://[^:/@\s]*):[^@/\s]*@`)

// commandLine is args as one line: the program's base name, values of
// secret flags and URL passwords redacted, control characters dropped, at
// most maxCommand runes.
func commandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if i == 0 {
			a = filepath.Base(a)
		}
		if name, _, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "-") && secretFlag.MatchString(name) {
			a = name + "=***"
		} else if i > 0 && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=") && secretFlag.MatchString(args[i-1]) {
			a = "***"
		}
		out[i] = urlPassword.ReplaceAllString(a, "$1:***@")
	}
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.Join(out, " "))
	if r := []rune(s); len(r) > maxCommand {
		s = string(r[:maxCommand-1]) + "…"
	}
	return s
}
