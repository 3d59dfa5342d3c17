package client

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emostream/emostream/internal/setting"
)

// Defaults of a Config.
const (
	// DefaultMaxRetries is how often a 429 or 503 is retried.
	DefaultMaxRetries = 3
	// DefaultMaxRetryWait bounds the wait a Retry-After asks for.
	DefaultMaxRetryWait = 30 * time.Second
	// DefaultTimelineTimeout bounds the reading of one timeline answer.
	DefaultTimelineTimeout = time.Minute
	// DefaultRequestTimeout bounds one POST, from its sending to its
	// reply: a server or proxy that takes a request and never answers
	// cannot hold a sender for ever.
	DefaultRequestTimeout = 30 * time.Second
	// MaxTimelineAnswer bounds the timeline answer Timeline decodes
	// (50,000 steps of every emoji, and the moments, are well under it).
	MaxTimelineAnswer = 64 << 20
)

// Bounds of what the client reads.
const (
	// limitsTimeout bounds GET /v1/config.
	limitsTimeout = 5 * time.Second
	// maxReply is the most of a reply's body read: a 202 or a refusal is
	// far smaller.
	maxReply = 64 << 10
	// maxErrorBody is the most of a failed read's body kept in its error.
	maxErrorBody = 4 << 10
	// maxConfig is the most of GET /v1/config read.
	maxConfig = 1 << 20
)

// ErrConfig wraps every problem New finds in a Config.
var ErrConfig = errors.New("client: invalid config")

// Config describes a Client.
type Config struct {
	// Target is the base URL of an ingest server, e.g.
	// http://127.0.0.1:8080. Required.
	Target string
	// HTTPClient sends the requests. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// MaxRetries is how often a request answered 429 or 503 is sent again
	// (after its Retry-After). Zero means DefaultMaxRetries.
	MaxRetries int
	// MaxRetryWait bounds the wait a Retry-After asks for. Zero means
	// DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// TimelineTimeout bounds the reading of one timeline answer. Zero
	// means DefaultTimelineTimeout.
	TimelineTimeout time.Duration
	// RequestTimeout bounds one POST of Post and Send. Zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// Client talks to one ingest server.
type Client struct {
	cfg  Config
	base string // Target without a trailing slash
}

// New checks cfg and returns its Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Target)
	if err := setting.First(ErrConfig,
		setting.Check("Target", cfg.Target, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "",
			"want http:// or https://host[:port]"),
		setting.AtLeast("MaxRetries", cfg.MaxRetries, 0),
		setting.AtLeast("MaxRetryWait", cfg.MaxRetryWait, 0),
		setting.AtLeast("TimelineTimeout", cfg.TimelineTimeout, 0),
		setting.AtLeast("RequestTimeout", cfg.RequestTimeout, 0),
	); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	if cfg.TimelineTimeout == 0 {
		cfg.TimelineTimeout = DefaultTimelineTimeout
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	return &Client{cfg: cfg, base: strings.TrimSuffix(cfg.Target, "/")}, nil
}
