package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// How a create finds the bucket's current revision again after another
// writer got there first.
const (
	// copyWait is how long a create waits for the watched copy to catch
	// up before it reads the bucket itself.
	copyWait = time.Second
	// guardKey is a key no match can have (match ids have no dots). A
	// create writes it only when the bucket's last message is gone (an
	// outside purge), so that no copy could ever reach its sequence.
	guardKey = "registry.guard"
)

// Create stores a new match, operator-created unless m.Auto. Its state
// must be scheduled or live; zero means scheduled.
//
// An id the bucket holds is ErrExists, whatever the room: a restart that
// creates its match again needs none. A new match past its origin's bound
// (MaxMatches for the operator's, AutoMatches for auto-admitted ones) is
// ErrFull. The bound is exact with any number of writers in any number of
// processes: the room is counted on a copy of the bucket at revision N,
// and the match is written only if the bucket is still at N (JetStream's
// expected last sequence); else the create counts again on a newer copy.
func (r *Registry) Create(ctx context.Context, m Match) (Match, error) {
	m, err := r.newMatch(m)
	if err != nil {
		return m, err
	}
	data, _ := json.Marshal(m)
	snap, err := r.current(ctx)
	for err == nil {
		if refusal := r.room(snap, m); refusal != nil {
			if snap, err = r.recheck(ctx, snap, refusal); err != nil {
				return m, err
			}
			continue
		}
		var rev uint64
		if rev, err = r.putAt(ctx, m.ID, data, snap.rev); err == nil {
			r.adopt(snap, m, rev)
			r.log.Info("match created", "match", m.ID, "state", m.State, "auto", m.Auto)
			return m, nil
		}
		if !conflict(err) {
			return m, fmt.Errorf("registry: creating %s: %w", m.ID, bucketFull(err))
		}
		snap, err = r.newer(ctx, snap)
	}
	return m, fmt.Errorf("registry: creating %s: %w", m.ID, err)
}

// newMatch checks m and fills in its state and times.
func (r *Registry) newMatch(m Match) (Match, error) {
	m.State = cmp.Or(m.State, Scheduled)
	m.CreatedAt = r.cfg.Now().UTC()
	m.StartedAt, m.EndedAt, m.LastActive = nil, nil, nil
	if m.State == Live {
		m.StartedAt = &m.CreatedAt
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	if m.State == Ended {
		return m, fmt.Errorf("%w: a new match cannot be ended", ErrInvalid)
	}
	return m, nil
}

// room is nil if snap has room for the new match m: its id is not taken
// and its origin is below its bound.
func (r *Registry) room(snap *Snapshot, m Match) error {
	if _, ok := snap.Lookup(m.ID); ok {
		return fmt.Errorf("%w: %s", ErrExists, m.ID)
	}
	if n := snap.Count(true, ""); m.Auto && n >= r.cfg.AutoMatches {
		return fmt.Errorf("%w: %d of %d auto-admitted matches; idle ones end after %v (--auto-match-idle) and are removed %v later (--auto-match-retention)",
			ErrFull, n, r.cfg.AutoMatches, r.cfg.AutoMatchIdle, r.cfg.AutoMatchRetention)
	}
	if n := snap.Count(false, ""); !m.Auto && n >= r.cfg.MaxMatches {
		return fmt.Errorf("%w: %d of %d; end and delete matches (match end, match rm) or raise --max-matches",
			ErrFull, n, r.cfg.MaxMatches)
	}
	return nil
}

// recheck returns a copy newer than snap if snap is behind the bucket,
// so that a refusal is never decided on a stale copy (an operator who just
// removed a match finds its room at once); else it returns refusal.
func (r *Registry) recheck(ctx context.Context, snap *Snapshot, refusal error) (*Snapshot, error) {
	last, err := r.lastRevision(ctx)
	if err != nil || snap.rev >= last {
		return nil, refusal
	}
	if cur := r.caughtUp(ctx, last); cur != nil {
		return cur, nil
	}
	s, err := r.load(ctx)
	if err != nil || s.rev <= snap.rev {
		return nil, refusal
	}
	return s, nil
}

// lastRevision is the bucket's last revision (its stream's last sequence).
func (r *Registry) lastRevision(ctx context.Context) (uint64, error) {
	st, err := r.kv.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("registry: reading bucket status: %w", err)
	}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		return bs.StreamInfo().State.LastSeq, nil
	}
	return 0, errors.New("registry: no bucket revision in its status")
}

// caughtUp waits (within copyWait) for the watched copy to reach revision
// rev, and returns it; nil if there is none or it did not.
func (r *Registry) caughtUp(ctx context.Context, rev uint64) *Snapshot {
	t := time.NewTimer(copyWait)
	defer t.Stop()
	for cur := r.snap.Load(); cur != nil; cur = r.snap.Load() {
		if cur.rev >= rev {
			return cur
		}
		select {
		case <-cur.next:
		case <-t.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// putAt writes key only if the bucket's last revision is rev, and returns
// the new revision.
func (r *Registry) putAt(ctx context.Context, key string, data []byte, rev uint64) (uint64, error) {
	msg := &nats.Msg{Subject: "$KV." + wire.MatchesBucket + "." + key, Data: data, Header: nats.Header{}}
	ack, err := r.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequence(rev))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// conflict says whether a conditional write failed because the bucket
// moved on: another writer wrote first.
func conflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// current is the copy a create counts on: the watched one once Run has
// loaded it, else the bucket read now.
func (r *Registry) current(ctx context.Context) (*Snapshot, error) {
	if s := r.snap.Load(); s != nil {
		return s, nil
	}
	return r.load(ctx)
}

// newer returns a copy of the bucket newer than old: the watched copy once
// it moved on (within copyWait), else the bucket read again. If even that
// is at old's revision, the bucket's last message was removed behind the
// registry's back, and a write of guardKey gives copies a revision to
// reach.
func (r *Registry) newer(ctx context.Context, old *Snapshot) (*Snapshot, error) {
	if cur := r.snap.Load(); cur != nil {
		if cur.rev > old.rev {
			return cur, nil
		}
		t := time.NewTimer(copyWait)
		defer t.Stop()
		select {
		case <-cur.next:
			if s := r.snap.Load(); s.rev > old.rev {
				return s, nil
			}
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s, err := r.load(ctx)
	if err != nil || s.rev > old.rev {
		return s, err
	}
	if _, err := r.kv.Put(ctx, guardKey, nil); err != nil {
		return nil, fmt.Errorf("writing %s: %w", guardKey, err)
	}
	return r.load(ctx)
}

// adopt makes the watched copy snap plus the match just created at rev the
// current copy, unless the watch already moved on: Admit then knows the
// match before the watch delivers it. rev is snap's revision plus one (the
// write was conditional on snap's), so the new copy is exact.
func (r *Registry) adopt(snap *Snapshot, m Match, rev uint64) {
	if r.snap.Load() != snap {
		return
	}
	if next := snap.with(m, rev); r.snap.CompareAndSwap(snap, next) {
		close(snap.next)
	}
}
