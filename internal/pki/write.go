package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is one file to write: a name in the directory, the data, the mode.
type File struct {
	Name string
	Data []byte
	Mode os.FileMode
}

// Write writes files into dir (made, mode 0700, if missing), each created
// anew, so a key never keeps an old file's wider mode, and returns their
// paths. It writes all or nothing: without replace a file that exists is
// an error, and on an error it removes what it wrote; with replace it
// refuses a name that is there and not a file (a directory: the one thing
// a rename cannot replace), writes every file under a temporary name and
// renames them over the old ones (a symlink there is replaced, not
// followed) only once all are written, so a failure to write leaves the
// old files as they were.
func Write(dir string, files []File, replace bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if replace {
		for _, f := range files {
			st, err := os.Lstat(filepath.Join(dir, f.Name))
			if err == nil && !st.Mode().IsRegular() && st.Mode().Type() != fs.ModeSymlink {
				return nil, fmt.Errorf("%s is there and not a file: nothing was written", f.Name)
			}
		}
		return replaceFiles(dir, files)
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := writeNewFile(path, f.Data, f.Mode); err != nil {
			for _, w := range written {
				_ = os.Remove(w)
			}
			return nil, fmt.Errorf("%w (removed what this run wrote)", err)
		}
		written = append(written, path)
	}
	return written, nil
}

// replaceFiles writes files into dir under temporary names, then renames
// each over its name.
func replaceFiles(dir string, files []File) ([]string, error) {
	var temps, written []string
	removeTemps := func() {
		for _, t := range temps {
			_ = os.Remove(t)
		}
	}
	for _, f := range files {
		tmp, err := os.CreateTemp(dir, "."+f.Name+".new-*")
		if err == nil {
			temps = append(temps, tmp.Name())
			err = writeSynced(tmp, f.Data, f.Mode)
		}
		if err != nil {
			removeTemps()
			return nil, fmt.Errorf("%w (nothing was replaced)", err)
		}
	}
	for i, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := os.Rename(temps[i], path); err != nil {
			removeTemps()
			return nil, fmt.Errorf("%w (replaced only %d of %d files)", err, len(written), len(files))
		}
		written = append(written, path)
	}
	return written, nil
}

// writeNewFile creates path, which must not exist, with data and mode; a
// file it could not write whole it removes (a cut key would be "already
// there" for the next run).
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := writeSynced(f, data, mode); err != nil {
		return errors.Join(err, os.Remove(path))
	}
	return nil
}

// writeSynced writes data to the new file f, gives it mode, syncs and
// closes it.
func writeSynced(f *os.File, data []byte, mode os.FileMode) error {
	err := f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
