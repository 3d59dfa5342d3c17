package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/wire"
)

// Defaults of Config.
const (
	// DefaultMaxMatches bounds the bucket: Create refuses past it.
	DefaultMaxMatches = 10_000
	// MaxValueSize is the bucket's largest value: a Match within the
	// metadata limits is well under it.
	MaxValueSize = 4 << 10
)

// Config configures a Registry. The zero value is the documented default.
type Config struct {
	// Replicas of the bucket on a NATS cluster. Zero means 1.
	Replicas int
	// MaxMatches is the most matches the bucket holds, in any state;
	// Create refuses more with ErrFull. Zero means DefaultMaxMatches.
	MaxMatches int
	// AutoMatches, for development only, makes Admit create (as live) the
	// first AutoMatches unknown matches it is asked about, in this
	// process. Zero means none: unknown matches are refused.
	AutoMatches int
	// Registerer receives the registry's metrics. Nil means a private
	// registry.
	Registerer prometheus.Registerer
	// Logger receives the registry's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Registry reads and writes the match bucket. Admit and Matches answer from
// a copy that Run keeps current.
type Registry struct {
	cfg Config
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	log *slog.Logger

	snap  atomic.Pointer[map[string]Match] // nil until Run loaded the bucket
	autoM sync.Mutex
	autoN int // matches this process created through AutoMatches
	met   *metrics
}

// Open creates the bucket if needed (or updates its limits) and returns the
// registry: for admins (user "admin" on the hub) and emostream up.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Registry, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, bucketConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("registry: opening bucket %s: %w", wire.MatchesBucket, err)
	}
	return newRegistry(cfg, js, kv)
}

// Bind returns the registry of the existing bucket without creating or
// changing it: for readers (ingest, user "ingest" on the hub, which may not
// write the bucket). It fails with ErrNoBucket if no admin created it yet.
func Bind(ctx context.Context, js jetstream.JetStream, cfg Config) (*Registry, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, wire.MatchesBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoBucket
	}
	if err != nil {
		return nil, fmt.Errorf("registry: binding bucket %s: %w", wire.MatchesBucket, err)
	}
	return newRegistry(cfg, js, kv)
}

// ErrNoBucket is returned by Bind when the registry's bucket does not exist.
var ErrNoBucket = errors.New("registry: bucket " + wire.MatchesBucket +
	" does not exist: an admin creates it (emostream match ls, or emostream up)")

func (cfg Config) withDefaults() (Config, error) {
	cfg.Replicas = cmp.Or(cfg.Replicas, 1)
	cfg.MaxMatches = cmp.Or(cfg.MaxMatches, DefaultMaxMatches)
	if cfg.MaxMatches < 0 || cfg.AutoMatches < 0 || cfg.Replicas < 0 {
		return cfg, fmt.Errorf("%w: negative max matches, auto matches or replicas", ErrInvalid)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	return cfg, nil
}

func newRegistry(cfg Config, js jetstream.JetStream, kv jetstream.KeyValue) (*Registry, error) {
	r := &Registry{cfg: cfg, js: js, kv: kv, log: cfg.Logger.With("component", "registry")}
	var err error
	if r.met, err = newMetrics(cfg.Registerer, r); err != nil {
		return nil, err
	}
	return r, nil
}

// bucketConfig bounds the bucket: one value per match, each at most
// MaxValueSize, at most MaxMatches of them (with room for delete markers).
func bucketConfig(cfg Config) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       wire.MatchesBucket,
		Description:  "EmoStream match registry: key = match id, value = state and metadata",
		MaxValueSize: MaxValueSize,
		History:      1,
		MaxBytes:     int64(2*cfg.MaxMatches) * MaxValueSize,
		Storage:      jetstream.FileStorage,
		Replicas:     cfg.Replicas,
	}
}

// Create stores a new match. Its state must be scheduled or live; zero
// means scheduled.
func (r *Registry) Create(ctx context.Context, m Match) (Match, error) {
	m.State = cmp.Or(m.State, Scheduled)
	m.CreatedAt = r.cfg.Now().UTC()
	if m.State == Live {
		m.StartedAt = &m.CreatedAt
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	if m.State == Ended {
		return m, fmt.Errorf("%w: a new match cannot be ended", ErrInvalid)
	}
	if err := r.checkRoom(ctx); err != nil {
		return m, err
	}
	data, _ := json.Marshal(m)
	if _, err := r.kv.Create(ctx, m.ID, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return m, fmt.Errorf("%w: %s", ErrExists, m.ID)
		}
		return m, fmt.Errorf("registry: creating %s: %w", m.ID, err)
	}
	r.log.Info("match created", "match", m.ID, "state", m.State, "auto", m.Auto)
	return m, nil
}

// checkRoom refuses a new match when the bucket holds MaxMatches.
func (r *Registry) checkRoom(ctx context.Context) error {
	st, err := r.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("registry: reading bucket status: %w", err)
	}
	if st.Values() >= uint64(r.cfg.MaxMatches) {
		return fmt.Errorf("%w: the registry holds %d, its limit (remove ended matches with match rm)", ErrFull, st.Values())
	}
	return nil
}

// Get returns one match, or ErrUnknownMatch.
func (r *Registry) Get(ctx context.Context, id string) (Match, error) {
	m, _, err := r.get(ctx, id)
	return m, err
}

func (r *Registry) get(ctx context.Context, id string) (Match, uint64, error) {
	if !wire.ValidMatchID(id) {
		return Match{}, 0, fmt.Errorf("%w: %q", ErrUnknownMatch, id)
	}
	e, err := r.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Match{}, 0, fmt.Errorf("%w: %s", ErrUnknownMatch, id)
	}
	if err != nil {
		return Match{}, 0, fmt.Errorf("registry: reading %s: %w", id, err)
	}
	var m Match
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return Match{}, 0, fmt.Errorf("registry: value of %s: %w", id, err)
	}
	return m, e.Revision(), nil
}

// Start makes a scheduled match live.
func (r *Registry) Start(ctx context.Context, id string) (Match, error) { return r.move(ctx, id, Live) }

// End ends a scheduled or live match.
func (r *Registry) End(ctx context.Context, id string) (Match, error) { return r.move(ctx, id, Ended) }

// move changes a match's state with a compare-and-set on its revision,
// retrying when another writer got there in between.
func (r *Registry) move(ctx context.Context, id string, next State) (Match, error) {
	for attempt := 0; ; attempt++ {
		m, rev, err := r.get(ctx, id)
		if err != nil {
			return m, err
		}
		if m, err = m.to(next, r.cfg.Now()); err != nil {
			return m, err
		}
		data, _ := json.Marshal(m)
		_, err = r.kv.Update(ctx, id, data, rev)
		if err == nil {
			r.log.Info("match state", "match", id, "state", next)
			return m, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt >= 5 {
			return m, fmt.Errorf("registry: updating %s: %w", id, err)
		}
	}
}

// Remove deletes a match from the registry. Its stored swarms stay until
// the swarm stream's retention drops them.
func (r *Registry) Remove(ctx context.Context, id string) error {
	if _, _, err := r.get(ctx, id); err != nil {
		return err
	}
	if err := r.kv.Purge(ctx, id); err != nil {
		return fmt.Errorf("registry: removing %s: %w", id, err)
	}
	r.log.Info("match removed", "match", id)
	return nil
}

// List reads every match from the bucket, sorted by Less.
func (r *Registry) List(ctx context.Context) ([]Match, error) {
	w, err := r.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("registry: listing: %w", err)
	}
	defer w.Stop()
	var out []Match
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				sortMatches(out)
				return out, nil
			}
			var m Match
			if json.Unmarshal(e.Value(), &m) == nil {
				out = append(out, m)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("registry: listing: %w", ctx.Err())
		}
	}
}

// sortMatches orders live matches first, then scheduled, then ended; within
// a state by planned start, then ID.
func sortMatches(ms []Match) {
	rank := map[State]int{Live: 0, Scheduled: 1, Ended: 2}
	sort.Slice(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if rank[a.State] != rank[b.State] {
			return rank[a.State] < rank[b.State]
		}
		at, bt := planned(a), planned(b)
		if !at.Equal(bt) {
			return at.Before(bt)
		}
		return a.ID < b.ID
	})
}

func planned(m Match) time.Time {
	if m.PlannedStart != nil {
		return *m.PlannedStart
	}
	return time.Time{}
}
