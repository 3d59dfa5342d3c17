package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Defaults of Config.
const (
	// DefaultMaxMatches bounds the operator's matches: Create refuses
	// past it.
	DefaultMaxMatches = 10_000
	// DefaultAutoMatchIdle is how long an auto-admitted match takes no
	// reactions before it is ended.
	DefaultAutoMatchIdle = 10 * time.Minute
	// DefaultAutoMatchRetention is how long an ended auto-admitted match
	// stays before it is removed.
	DefaultAutoMatchRetention = time.Hour
	// DefaultSweepInterval is how often Run looks for idle and expired
	// auto-admitted matches (at most a quarter of the idle time).
	DefaultSweepInterval = 10 * time.Second
	// MaxValueSize is the bucket's largest value: a Match within the
	// metadata limits is well under it.
	MaxValueSize = 4 << 10
	// MaxMaxMatches is the largest MaxMatches: the bucket's size, four
	// values of MaxValueSize a match (16 GiB here), stays a number.
	MaxMaxMatches = 1_000_000
	// markerAge is how long the delete marker of a removed match stays in
	// the bucket before Run or a later Remove purges it: long past the
	// moment every watch has read it (a watch that restarts reloads the
	// bucket whole).
	markerAge = 30 * time.Minute
	// markerInterval is how often Run purges the old markers.
	markerInterval = 5 * time.Minute
)

// Config configures a Registry. The zero value is the documented default.
type Config struct {
	// Replicas of the bucket on a NATS cluster, where Open creates it (zero
	// means 1) or changes an existing bucket to (zero keeps its own).
	Replicas int
	// MaxMatches is the most operator-created matches the bucket holds, in
	// any state; Create refuses more with ErrFull. Auto-admitted matches
	// have their own bound, AutoMatches, and never take this room. Zero
	// means DefaultMaxMatches.
	MaxMatches int
	// AutoMatches, for development only, makes Admit create (live, marked
	// Auto) the unknown matches it is asked about while the bucket holds
	// fewer than AutoMatches auto-admitted matches (in any state, written
	// by any process). Zero means none: unknown matches are refused. At
	// most MaxMatches.
	AutoMatches int
	// AutoMatchIdle ends an auto-admitted match that took no reactions
	// for this long. Zero means DefaultAutoMatchIdle.
	AutoMatchIdle time.Duration
	// AutoMatchRetention removes an ended auto-admitted match this long
	// after it ended. Zero means DefaultAutoMatchRetention.
	AutoMatchRetention time.Duration
	// SweepInterval is how often Run, in a registry opened with Open,
	// ends idle and removes expired auto-admitted matches. Zero means
	// DefaultSweepInterval or a quarter of AutoMatchIdle, if shorter.
	SweepInterval time.Duration
	// Registerer receives the registry's metrics. Nil means a private
	// registry.
	Registerer prometheus.Registerer
	// Logger receives the registry's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Registry reads and writes the match bucket. Admit and Snapshot answer
// from a copy that Run keeps current.
type Registry struct {
	cfg       Config
	js        jetstream.JetStream
	kv        jetstream.KeyValue
	log       *slog.Logger
	writable  bool // opened with Open: Run sweeps auto-admitted matches and old markers
	markerAge time.Duration

	snap  atomic.Pointer[Snapshot] // nil until Run loaded the bucket
	autoM sync.Mutex               // one auto-admission at a time in this process
	seen  sync.Map                 // auto match id → *atomic.Int64, Unix ms of its last admission here
	met   *metrics
}

// Open creates the bucket if needed and returns the registry: for admins
// (user "admin" on the hub) and emostream up. An existing bucket keeps its
// replicas unless Config.Replicas names others, and its size unless
// MaxMatches needs more: an admin command with the defaults never shrinks
// a registry another process sized, nor scales it down to one replica.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Registry, error) {
	replicas := cfg.Replicas
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	want := bucketConfig(cfg)
	kv, err := js.KeyValue(ctx, wire.MatchesBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		kv, err = js.CreateKeyValue(ctx, want)
	case err == nil:
		kv, err = grow(ctx, js, kv, want, replicas)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: opening bucket %s: %w", wire.MatchesBucket, err)
	}
	r, err := newRegistry(cfg, js, kv)
	if r != nil {
		r.writable = true
	}
	return r, err
}

// grow updates an existing bucket only where want asks for more room, or
// replicas (nonzero) for another count.
func grow(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, want jetstream.KeyValueConfig, replicas int) (jetstream.KeyValue, error) {
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, err
	}
	have := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	want.MaxBytes = max(want.MaxBytes, have.MaxBytes)
	want.Replicas = cmp.Or(replicas, have.Replicas)
	if want.MaxBytes == have.MaxBytes && want.Replicas == have.Replicas {
		return kv, nil
	}
	return js.UpdateKeyValue(ctx, want)
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

// validate checks cfg, with its defaults, one rule per setting in field
// order (package setting): its error names the setting and wraps ErrConfig.
func (cfg Config) validate() error {
	return setting.First(ErrConfig,
		setting.AtLeast("Replicas", cfg.Replicas, 0),
		setting.Between("MaxMatches", cfg.MaxMatches, 0, MaxMaxMatches),
		setting.Check("AutoMatches", cfg.AutoMatches, cfg.AutoMatches >= 0 && cfg.AutoMatches <= cfg.MaxMatches,
			fmt.Sprintf("want 0 to MaxMatches (%d)", cfg.MaxMatches)),
		setting.AtLeast("AutoMatchIdle", cfg.AutoMatchIdle, 0),
		setting.AtLeast("AutoMatchRetention", cfg.AutoMatchRetention, 0),
		setting.Above("SweepInterval", cfg.SweepInterval, 0),
	)
}

// ErrConfig is wrapped by every error of Open and Bind about their Config.
var ErrConfig = errors.New("registry: invalid config")

// ErrNoBucket is returned by Bind when the registry's bucket does not exist.
var ErrNoBucket = errors.New("registry: bucket " + wire.MatchesBucket +
	" does not exist: an admin creates it (emostream match ls, or emostream up)")

func (cfg Config) withDefaults() (Config, error) {
	cfg.Replicas = cmp.Or(cfg.Replicas, 1)
	cfg.MaxMatches = cmp.Or(cfg.MaxMatches, DefaultMaxMatches)
	cfg.AutoMatchIdle = cmp.Or(cfg.AutoMatchIdle, DefaultAutoMatchIdle)
	cfg.AutoMatchRetention = cmp.Or(cfg.AutoMatchRetention, DefaultAutoMatchRetention)
	cfg.SweepInterval = cmp.Or(cfg.SweepInterval, min(DefaultSweepInterval, cfg.AutoMatchIdle/4))
	if err := cfg.validate(); err != nil {
		return cfg, err
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
	r := &Registry{cfg: cfg, js: js, kv: kv, log: cfg.Logger.With("component", "registry"), markerAge: markerAge}
	var err error
	if r.met, err = newMetrics(cfg.Registerer, r.count); err != nil {
		return nil, err
	}
	return r, nil
}

// bucketConfig bounds the bucket: one value per match, each at most
// MaxValueSize, at most MaxMatches operator-created and as many
// auto-admitted ones (AutoMatches is at most MaxMatches), with as much
// again for delete markers. It does not depend on AutoMatches, so that
// an admin opening the bucket without it does not shrink it.
func bucketConfig(cfg Config) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       wire.MatchesBucket,
		Description:  "EmoStream match registry: key = match id, value = state and metadata",
		MaxValueSize: MaxValueSize,
		History:      1,
		MaxBytes:     int64(4*cfg.MaxMatches) * MaxValueSize,
		Storage:      jetstream.FileStorage,
		Replicas:     cfg.Replicas,
	}
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

// Start makes a scheduled match live. It needs no room: a full registry
// starts its matches.
func (r *Registry) Start(ctx context.Context, id string) (Match, error) {
	return r.update(ctx, id, func(m Match) (Match, error) { return m.to(Live, r.cfg.Now()) })
}

// End ends a scheduled or live match.
func (r *Registry) End(ctx context.Context, id string) (Match, error) {
	return r.update(ctx, id, func(m Match) (Match, error) { return m.to(Ended, r.cfg.Now()) })
}

// update changes a match with change, a compare-and-set on its revision,
// retrying when another writer got there in between.
func (r *Registry) update(ctx context.Context, id string, change func(Match) (Match, error)) (Match, error) {
	for attempt := 0; ; attempt++ {
		old, rev, err := r.get(ctx, id)
		if err != nil {
			return old, err
		}
		m, err := change(old)
		if err != nil {
			return m, err
		}
		data, _ := json.Marshal(m)
		_, err = r.kv.Update(ctx, id, data, rev)
		if err == nil && m.State != old.State {
			r.log.Info("match state", "match", id, "state", m.State)
		}
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt >= 5 {
			return m, fmt.Errorf("registry: updating %s: %w", id, bucketFull(err))
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
		return fmt.Errorf("registry: removing %s: %w", id, bucketFull(err))
	}
	r.log.Info("match removed", "match", id)
	r.purgeMarkers(ctx)
	return nil
}

// purgeMarkers drops the delete markers older than markerAge: each
// removed match leaves one (about 120 bytes), and nothing else ever
// clears them, so without this a registry with matches created and
// removed for long enough fills its bucket, empty or not.
func (r *Registry) purgeMarkers(ctx context.Context) {
	if err := r.kv.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(r.markerAge)); err != nil {
		r.log.Warn("purging removed matches' markers", "err", err)
	}
	if st, err := r.kv.Status(ctx); err == nil {
		r.met.bytes.Set(float64(st.Bytes()))
	}
}

// bucketFull says what a write the bucket has no room for means.
func bucketFull(err error) error {
	if strings.Contains(err.Error(), "maximum bytes exceeded") { // the stream's store error, in the API error's text
		return fmt.Errorf("%w: the bucket %s has no room left (emostream_registry_bucket_bytes; removed matches' markers are purged after %v): %w",
			ErrFull, wire.MatchesBucket, markerAge, err)
	}
	return err
}

// List reads every match from the bucket, in listing order
// (Position.Compare).
func (r *Registry) List(ctx context.Context) ([]Match, error) {
	s, err := r.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry: listing: %w", err)
	}
	return s.Sorted(), nil
}
