// Package streams declares EmoStream's JetStream streams, partials, swarms
// and the timeline, and creates them idempotently: whichever stage starts first makes
// them, the others find them.
package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// DefaultDuplicates is the streams' Nats-Msg-Id dedup window.
const DefaultDuplicates = 2 * time.Minute

// DefaultSwarmRetention is how long a match's swarms are kept after its
// last one: a match ended for longer has no subject left in the stream.
const DefaultSwarmRetention = 24 * time.Hour

// DefaultPartialRetention is how long partials are kept: a processor down
// for longer loses what the bridges counted meanwhile.
const DefaultPartialRetention = 24 * time.Hour

// Config tunes the streams. The zero value is the documented default.
type Config struct {
	// Replicas is the stream replica count on a NATS cluster. Zero means 1.
	Replicas int
	// SwarmHistory is how many swarms per match the swarm stream keeps.
	// Zero means 300: ten minutes of 2-second windows.
	SwarmHistory int64
	// PartialHistory is how many partials per partition the partial stream
	// keeps. Zero means 3600: two hours of 2-second windows.
	PartialHistory int64
	// Duplicates is the Nats-Msg-Id dedup window. Zero means 2 minutes.
	// Recovery never relies on it.
	Duplicates time.Duration
	// SwarmRetention is the swarm stream's MaxAge: each match's swarms stay
	// while it is live (its last SwarmHistory of them) and for this long
	// after its last window. Zero means DefaultSwarmRetention.
	SwarmRetention time.Duration
	// PartialRetention is the partial stream's MaxAge. Zero means
	// DefaultPartialRetention.
	PartialRetention time.Duration
	// TimelineHistory is how many records of each kind per match the
	// timeline stream keeps (window records, each rollup step, moments).
	// Zero means DefaultTimelineHistory: three hours of 2-second windows.
	TimelineHistory int64
}

// DefaultTimelineHistory is the timeline stream's per-subject limit: three
// hours of 2-second window records, 90 hours of one-minute rollups.
const DefaultTimelineHistory = 5400

func (c Config) withDefaults() Config {
	c.Replicas = cmp.Or(c.Replicas, 1)
	c.SwarmHistory = cmp.Or(c.SwarmHistory, 300)
	c.PartialHistory = cmp.Or(c.PartialHistory, 3600)
	c.Duplicates = cmp.Or(c.Duplicates, DefaultDuplicates)
	c.SwarmRetention = cmp.Or(c.SwarmRetention, DefaultSwarmRetention)
	c.PartialRetention = cmp.Or(c.PartialRetention, DefaultPartialRetention)
	c.TimelineHistory = cmp.Or(c.TimelineHistory, DefaultTimelineHistory)
	return c
}

// Partials is the configuration of wire.PartialsStream.
func Partials(c Config) jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:              wire.PartialsStream,
		Description:       "EmoStream bridge partials: one per Kafka partition per window, with their offsets",
		Subjects:          []string{wire.PartialsSubjects},
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		MaxMsgsPerSubject: c.PartialHistory,
		MaxAge:            c.PartialRetention,
		Duplicates:        c.Duplicates,
		AllowDirect:       true,
		DenyDelete:        true,
		DenyPurge:         true,
		Discard:           jetstream.DiscardOld,
	}
}

// Swarms is the configuration of wire.SwarmsStream. Stored swarms are
// republished to emostream.live.<match>, so a duplicate publish, which the
// stream drops, never reaches a viewer.
func Swarms(c Config) jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:              wire.SwarmsStream,
		Description:       "EmoStream swarms: one per match per window, republished to emostream.live.<match>",
		Subjects:          []string{wire.SwarmsSubjects},
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		MaxMsgsPerSubject: c.SwarmHistory,
		MaxAge:            c.SwarmRetention,
		Duplicates:        c.Duplicates,
		AllowDirect:       true,
		DenyDelete:        true,
		DenyPurge:         true,
		Discard:           jetstream.DiscardOld,
		RePublish:         &jetstream.RePublish{Source: wire.SwarmsSubjects, Destination: wire.LiveSubjects},
	}
}

// Timeline is the configuration of wire.TimelineStream: per match its
// window records, rollups and moments, kept as long as its swarms
// (SwarmRetention after each record), at most TimelineHistory of each kind.
func Timeline(c Config) jetstream.StreamConfig {
	c = c.withDefaults()
	sc := Swarms(c) // the same retention and guarantees, not republished
	sc.Name = wire.TimelineStream
	sc.Description = "EmoStream timeline: per match window counts, 1m and 5m rollups, crowd moments"
	sc.Subjects = []string{wire.TimelineSubjects, wire.MomentsSubjects}
	sc.MaxMsgsPerSubject = c.TimelineHistory
	sc.RePublish = nil
	return sc
}

// Ensure creates the streams, or updates them to this configuration if they
// exist. Concurrent callers are fine.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) error {
	for _, sc := range []jetstream.StreamConfig{Partials(c), Swarms(c), Timeline(c)} {
		if err := EnsureStream(ctx, js, sc); err != nil {
			return err
		}
	}
	return nil
}

// EnsureStream creates one stream, or updates it to sc if it exists: what a
// stage allowed to manage only that stream (the bridge: partials) calls.
func EnsureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err = js.CreateOrUpdateStream(ctx, sc); err == nil {
			return nil
		}
		// Two stages creating at once: one wins, the other retries as an update.
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			break
		}
	}
	return fmt.Errorf("streams: creating %s: %w", sc.Name, err)
}
