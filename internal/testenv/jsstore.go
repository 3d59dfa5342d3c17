package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// storeBreakStream is the stream BreakJetStreamStore writes to. Its
// MaxBytes makes the store's blocks 32 KB (nats-server's smallest), so a
// few messages of storeBreakMsg need a new block file.
const (
	storeBreakStream   = "EMOSTREAM_TEST_STORE_BREAK"
	storeBreakMaxBytes = 100_000
	storeBreakMsg      = 10_000
)

// BreakJetStreamStore makes a running nats-server turn its JetStream off
// for real, as when its store becomes unusable under it: over nc (a
// client of an account with JetStream whose name is account) it creates a
// stream with small blocks, makes the stream's directory in storeDir (the
// server's store_dir) unwritable and writes until the server cannot open
// the next block file (nats-server then logs "permission denied" and
// shuts JetStream down). The directory is writable again when the test
// ends.
func BreakJetStreamStore(t testing.TB, nc *nats.Conn, storeDir, account string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: storeBreakStream, Subjects: []string{"emostream-test.store-break"},
		MaxBytes: storeBreakMaxBytes, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	makeUnwritable(t, filepath.Join(storeDir, "jetstream", account, "streams", storeBreakStream, "msgs"))
	body := []byte(strings.Repeat("x", storeBreakMsg))
	for i := 0; ; i++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.Publish(pctx, "emostream-test.store-break", body)
		cancel()
		t.Logf("publish %d: %v", i, err)
		if err != nil {
			return // the store refused it, or JetStream went off before it answered
		}
		if i*storeBreakMsg > 10*storeBreakMaxBytes {
			t.Fatalf("%d bytes stored in an unwritable directory", i*storeBreakMsg)
		}
	}
}

// makeUnwritable makes dir refuse new files, to root too, until the test
// ends: mode 0500, or for root the immutable attribute (unwritable_*.go).
func makeUnwritable(t testing.TB, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return
	}
	setImmutable(t, dir)
}
