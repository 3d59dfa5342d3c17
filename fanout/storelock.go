package fanout

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/internal/dirlock"
)

// StoreLockFile is the lock of a JetStream store (package dirlock), in its
// store_dir beside nats-server's own "jetstream" directory: nats-server
// reads only that one, so a stock nats-server takes the same conf file and
// directory. A hub or leaf holds it from Start to Shutdown; a second server
// on the same store (a second "emostream hub -c nats.conf" from the same
// working directory, or "up" on a data dir in use) fails to start, naming
// the directory and the holder.
const StoreLockFile = "jetstream.lock"

// leafLockHint is the way out for a leaf whose store is in use: leaves take
// their store only from the file.
const leafLockHint = "give this leaf another store_dir"

// storeLockDir is the directory whose lock guards the server's JetStream
// store: its store_dir, or without one nats-server's default under the
// temporary directory; "" without JetStream.
func storeLockDir(opts *server.Options) string {
	switch {
	case !opts.JetStream:
		return ""
	case opts.StoreDir != "":
		return opts.StoreDir
	}
	return filepath.Join(os.TempDir(), "nats")
}

// lockStore takes the store's lock, if the server has a store.
func (e *embedded) lockStore() error {
	dir := storeLockDir(e.opts)
	if dir == "" {
		return nil
	}
	l, err := dirlock.Acquire(dir, StoreLockFile)
	if err != nil {
		var held *dirlock.HeldError
		if errors.As(err, &held) {
			held.Hint = e.lockHint
		}
		return err
	}
	e.lock.Store(l)
	return nil
}

// unlockStore lets the store go, once the server has stopped.
func (e *embedded) unlockStore() {
	if l := e.lock.Swap(nil); l != nil {
		l.Release()
	}
}
