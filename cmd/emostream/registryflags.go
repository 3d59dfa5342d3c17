package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// registryOpenTimeout bounds opening the registry once the hub answers.
const registryOpenTimeout = 10 * time.Second

// registryFlags are how a command reaches the match registry.
type registryFlags struct {
	nats *natsFlags
	env  *environment
	// admin opens the registry for writing, creating its bucket if needed
	// (registry.Open, user "admin"); else it binds to the existing bucket
	// to read it (registry.Bind, user "ingest"), unless AutoMatches is on.
	admin bool
	// replicas of the bucket, when this command creates it or, given
	// explicitly, changes it.
	replicas int
	fs       *flag.FlagSet
}

func addRegistryFlags(fs *flag.FlagSet, env *environment) *registryFlags {
	f := &registryFlags{env: env, fs: fs, nats: addNATSFlags(fs, "nats://"+defaultNATSAddr,
		"NATS hub holding the match registry (user \"admin\" to change it, \"ingest\" to read it)")}
	fs.IntVar(&f.replicas, "replicas", defaultReplicas, replicasUsage("the match registry bucket "+wire.MatchesBucket+" where this command creates it (user \"admin\", or --auto-matches)"))
	return f
}

// open connects to the hub and opens the registry; close disconnects.
func (f *registryFlags) open(ctx context.Context, cfg registry.Config) (r *registry.Registry, closeFn func(), err error) {
	if f.replicas < 1 || f.replicas > maxReplicas {
		return nil, nil, fmt.Errorf("--replicas %d: want 1 to %d", f.replicas, maxReplicas)
	}
	// An existing bucket keeps its replicas unless --replicas is given: a
	// "match start" without it must not scale an R3 registry down to R1.
	cfg.Replicas = 0
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "replicas" {
			cfg.Replicas = f.replicas
		}
	})
	refused, stop := context.WithCancelCause(ctx) // ended early if the hub refuses ingest's inboxes
	defer stop(nil)
	nc, err := f.nats.options(f.env).Connect(append(f.inboxes(stop), nats.Name("emostream-registry"), nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond), nats.RetryOnFailedConnect(false))...)
	if err != nil {
		return nil, nil, fmt.Errorf("match registry: %w", err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		octx, cancel := context.WithTimeout(refused, registryOpenTimeout)
		if f.admin || cfg.AutoMatches > 0 { // auto matches are created: user "admin"
			r, err = registry.Open(octx, js, cfg)
		} else {
			r, err = registry.Bind(octx, js, cfg)
		}
		cancel()
	}
	if cause := context.Cause(refused); err != nil && errors.Is(cause, natsconn.ErrInboxesRefused) {
		err = cause
	}
	if err != nil {
		nc.Close()
		return nil, nil, flagError(err, registrySettings)
	}
	return r, nc.Close, nil
}

// olderHub is what a refusal of ingest's reply inboxes means: the hub's
// configuration is from before account INGEST.
const olderHub = "the hub's configuration predates account INGEST, whose users receive there: " +
	"give the hub this version's nats.conf, or run this version's emostream hub, then restart ingest " +
	"(docs/operations.md, \"Upgrading to account INGEST\")"

// inboxes are the reply-inbox options of the command's connections to the
// hub: ingest (not an admin command) takes ingest's prefix, the one the
// hub's INGEST account receives its JetStream answers on. User admin,
// which an ingest writing the registry runs as, may receive there too.
// A refusal of them by the hub is given to cancel (natsconn.InboxesRefused):
// the registry's open fails at once, naming what to change.
func (f *registryFlags) inboxes(cancel context.CancelCauseFunc) []nats.Option {
	if f.admin {
		return nil
	}
	return []nats.Option{nats.CustomInboxPrefix(wire.IngestInboxPrefix),
		natsconn.InboxesRefused(wire.IngestInboxPrefix, olderHub, cancel)}
}

// registrySettings names the flags that set registry.Config's fields, for
// its errors (flagError).
var registrySettings = settingFlags{registry.ErrConfig, map[string]string{"Replicas": "replicas", "MaxMatches": "max-matches",
	"AutoMatches": "auto-matches", "AutoMatchIdle": "auto-match-idle", "AutoMatchRetention": "auto-match-retention"}}

// admissionFlags are the registry flags that "emostream ingest" and
// "emostream up" share.
type admissionFlags struct {
	fs         *flag.FlagSet
	max, auto  int
	idle, keep time.Duration
	tokenFile  string
}

func addAdmissionFlags(fs *flag.FlagSet) *admissionFlags {
	f := &admissionFlags{fs: fs}
	addMaxMatches(fs, &f.max)
	fs.IntVar(&f.auto, "auto-matches", 0, "development only: admit (and register, live, marked auto) unknown matches while the registry holds fewer than N auto-admitted ones, a bound of their own (at most --max-matches)")
	fs.DurationVar(&f.idle, "auto-match-idle", registry.DefaultAutoMatchIdle, "an auto-admitted match that took no reactions this long is ended")
	fs.DurationVar(&f.keep, "auto-match-retention", registry.DefaultAutoMatchRetention, "an ended auto-admitted match is removed this long after it ended, freeing its room")
	fs.StringVar(&f.tokenFile, "admin-token-file", "", "file with the admin API's bearer token (else EMOSTREAM_ADMIN_TOKEN; neither: admin API off)")
	return f
}

func addMaxMatches(fs *flag.FlagSet, max *int) {
	fs.IntVar(max, "max-matches", registry.DefaultMaxMatches, "most operator-created matches in the registry, in any state; a create past it is refused (\"registry full\"); start, end and rm always work")
}

// apply checks the flags and sets the registry's bounds and the admin
// token.
func (f *admissionFlags) apply(env *environment, cfg *registry.Config, token *string) error {
	if err := checkPositive(f.fs, "max-matches", "auto-match-idle", "auto-match-retention"); err != nil {
		return err
	}
	if f.auto < 0 || f.auto > f.max {
		return fmt.Errorf("--auto-matches %d: want 0 to --max-matches (%d)", f.auto, f.max)
	}
	cfg.MaxMatches, cfg.AutoMatches, cfg.AutoMatchIdle, cfg.AutoMatchRetention = f.max, f.auto, f.idle, f.keep
	// The admin API's bearer token: never a flag of its own (flags show in ps).
	tok, err := readSecret(env, f.tokenFile, "EMOSTREAM_ADMIN_TOKEN", "--admin-token-file")
	*token = string(tok)
	return err
}
