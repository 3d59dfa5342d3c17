package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// pollInterval is how often follow asks the bucket for what is new.
const pollInterval = 250 * time.Millisecond

// follow keeps the copy current until ctx ends or a read fails, with no
// consumer: a consumer's deliver subject is in the body of its create
// request, beyond what NATS permissions check, so a reader that may create
// one could have the bucket delivered into any subject of the hub
// (docs/security.md). It loads the bucket whole, then asks every
// pollInterval for the messages after the copy's revision; each burst of
// them (at most maxBatch) makes one new copy.
func (r *Registry) follow(ctx context.Context) error {
	reconnected := reconnectCheck(r.js.Conn())
	s, err := r.load(ctx)
	if err != nil {
		return err
	}
	r.publish(s)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if reconnected() {
			return errReconnected
		}
		ups, err := r.read(ctx, r.snap.Load().rev+1, maxBatch)
		if err != nil {
			return err
		}
		r.applyBurst(ups)
	}
}

// load reads the whole bucket once.
func (r *Registry) load(ctx context.Context) (*Snapshot, error) {
	ms, rev := map[string]Match{}, uint64(0)
	err := r.scan(ctx, 1, func(u update) bool {
		r.applySafe(ms, u)
		rev = u.rev
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading the bucket: %w", err)
	}
	return newSnapshot(rev, ms), nil
}

// read returns the bucket's updates at revision from or later, at most n.
// A sequence the bucket no longer holds (a value replaced, a marker
// purged) is skipped; a replica of a hub cluster that has not stored from
// yet answers nothing, and a later read asks again.
func (r *Registry) read(ctx context.Context, from uint64, n int) ([]update, error) {
	var ups []update
	err := r.scan(ctx, from, func(u update) bool {
		ups = append(ups, u)
		return len(ups) < n
	})
	if err != nil {
		return nil, fmt.Errorf("reading the bucket from revision %d: %w", from, err)
	}
	return ups, nil
}

// scan calls fn with each of the bucket's messages from revision from, in
// order, until fn returns false: the batched direct gets of
// timeline.Reader on the bucket's stream.
func (r *Registry) scan(ctx context.Context, from uint64, fn func(update) bool) error {
	rd := timeline.NewReader(r.js.Conn(), bucketStream, 0)
	return rd.Scan(ctx, bucketSubjects, from, func(m timeline.Msg) (bool, error) {
		return fn(update{
			key:   strings.TrimPrefix(m.Subject, bucketPrefix),
			del:   slices.Contains([]string{"DEL", "PURGE"}, m.Header.Get(kvOperation)),
			value: m.Data,
			rev:   m.Seq,
		}), nil
	})
}

// The bucket's stream, its subjects, and the header that marks a delete
// or purge (nats.go's KeyValue writes them so; a put has no such header).
const (
	bucketStream   = "KV_" + wire.MatchesBucket
	bucketPrefix   = "$KV." + wire.MatchesBucket + "."
	bucketSubjects = bucketPrefix + ">"
	kvOperation    = "KV-Operation"
)
