package loadgen

import (
	"cmp"
	"errors"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/internal/setting"
)

// Defaults and hard limits of a Config.
const (
	DefaultTarget           = "http://127.0.0.1:8080"
	DefaultPath             = "/v1/emojis"
	DefaultDuration         = 10 * time.Second
	MaxDuration             = time.Hour
	DefaultUsers            = 10_000
	DefaultMatches          = 1
	DefaultBatch            = 1
	MaxBatch                = 1000
	DefaultConnections      = 64
	MaxConnections          = 10_000
	DefaultTimeout          = 5 * time.Second
	DefaultProgressInterval = time.Second
	// MaxReplyBytes is the longest reply body read; a longer one is an
	// error (ingest's replies are a few hundred bytes), so that a target
	// cannot fill memory with Connections huge replies at once.
	MaxReplyBytes = 1 << 20
)

// Sentinel errors.
var (
	// ErrConfig wraps every problem New finds in a Config.
	ErrConfig = errors.New("loadgen: invalid config")
	// ErrRemoteTarget is returned for a target that does not resolve only to
	// loopback addresses, unless AllowRemote is set.
	ErrRemoteTarget = errors.New("loadgen: target is not a loopback address")
	// ErrBadMix is returned by ParseMix for a malformed emoji mix.
	ErrBadMix = errors.New("loadgen: bad emoji mix")
)

// Doer sends one HTTP request. *fasthttp.HostClient is one; tests may pass
// their own.
type Doer interface {
	DoTimeout(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error
}

var _ Doer = (*fasthttp.HostClient)(nil)

// Config describes one load run. The zero value is a valid run of 10 seconds
// of single-event POSTs over 64 connections against the local ingest.
type Config struct {
	// Target is the base URL of the ingest API. Zero means DefaultTarget.
	Target string
	// Path is posted to under Target. Zero means DefaultPath (/v1/emojis).
	Path string
	// AllowRemote permits a target that resolves to non-loopback addresses.
	AllowRemote bool
	// Resolver looks up the target's host for the loopback check and,
	// unless AllowRemote or Client is set, again for every connection the
	// run opens. Zero means net.DefaultResolver.
	Resolver Resolver

	// Rate is the total events per second across all connections. Zero means
	// unlimited: every connection sends as soon as its last answer arrived.
	Rate float64
	// Duration bounds the run. Zero means DefaultDuration when Events is also
	// zero, else MaxDuration. It may not exceed MaxDuration.
	Duration time.Duration
	// Events bounds the number of events sent. Zero means no bound other than
	// Duration.
	Events int64

	// Users is how many distinct user_id values events carry (u-0 … u-N-1).
	// Zero means DefaultUsers.
	Users int
	// Matches is how many distinct match_id values events carry (match-0 …).
	// Zero means DefaultMatches.
	Matches int
	// Batch is the number of events per POST, 1 … MaxBatch. One sends a bare
	// JSON object, more send an array. Zero means DefaultBatch.
	Batch int
	// Connections is the number of concurrent HTTP connections, each with
	// one request in flight. Zero means DefaultConnections.
	Connections int
	// Mix is the weighted set of emoji types to send. Zero means
	// ZipfMix(DefaultEmojiTypes).
	Mix Mix
	// Tokens, when set, are bearer tokens for an ingest that requires them
	// (docs/api.md, "Authentication"): connection i sends
	// Tokens[i%len(Tokens)], and events carry no user_id, since the server
	// takes the user from the token. Users is then unused.
	Tokens []string
	// EventIDs attaches a unique event_id to every event.
	EventIDs bool
	// Timeout bounds each request. Zero means DefaultTimeout.
	Timeout time.Duration
	// Seed makes the choice of users, matches and emojis repeatable. Zero
	// means a random seed.
	Seed uint64

	// Client sends the requests. Zero means a fasthttp.HostClient to Target
	// with Connections connections.
	Client Doer
	// Progress, if set, is called every ProgressInterval from one goroutine
	// while the run lasts.
	Progress func(Progress)
	// ProgressInterval is how often Progress is called. Zero means
	// DefaultProgressInterval.
	ProgressInterval time.Duration
	// OnResult, if set, is called after every request from the goroutine
	// that sent it, so it must be safe for concurrent use and quick.
	OnResult func(Result)
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	c.Target = cmp.Or(c.Target, DefaultTarget)
	c.Path = cmp.Or(c.Path, DefaultPath)
	if c.Duration == 0 {
		c.Duration = MaxDuration
		if c.Events == 0 {
			c.Duration = DefaultDuration
		}
	}
	c.Users = cmp.Or(c.Users, DefaultUsers)
	c.Matches = cmp.Or(c.Matches, DefaultMatches)
	c.Batch = cmp.Or(c.Batch, DefaultBatch)
	c.Connections = cmp.Or(c.Connections, DefaultConnections)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.ProgressInterval = cmp.Or(c.ProgressInterval, DefaultProgressInterval)
	if len(c.Mix) == 0 {
		c.Mix = ZipfMix(DefaultEmojiTypes)
	}
	return c
}

// validate checks c, with its defaults, one rule per setting in field order
// (package setting): its error names the setting and wraps ErrConfig.
func (c Config) validate() error {
	_, targetErr := targetURL(c.Target)
	return setting.First(ErrConfig,
		setting.Err("Target", c.Target, targetErr),
		setting.Finite("Rate", c.Rate),
		setting.AtLeast("Rate", c.Rate, 0),
		setting.Between("Duration", c.Duration, 0, MaxDuration),
		setting.AtLeast("Events", c.Events, 0),
		setting.AtLeast("Users", c.Users, 1),
		setting.AtLeast("Matches", c.Matches, 1),
		setting.Between("Batch", c.Batch, 1, MaxBatch),
		setting.Between("Connections", c.Connections, 1, MaxConnections),
		setting.Err("Mix", nil, c.Mix.validate()),
		setting.AtLeast("Timeout", c.Timeout, 0),
		setting.AtLeast("ProgressInterval", c.ProgressInterval, 0),
	)
}

// parseTarget checks that target is an absolute http(s) URL with a host:
// its error names the setting (Target) and wraps ErrConfig.
func parseTarget(target string) (*url.URL, error) {
	u, err := targetURL(target)
	return u, setting.First(ErrConfig, setting.Err("Target", target, err))
}

// targetURL parses target, an absolute http(s) URL with a host.
func targetURL(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("want http://host:port")
	}
	return u, nil
}
