package ingest

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/clientip"
	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/wire"
)

// ParseCIDRs parses a comma-separated list of CIDR prefixes or single
// addresses, as --trusted-proxies takes them.
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	p, err := clientip.ParsePrefixes(list)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return p, nil
}

// limits applies the per-IP and per-user buckets to a request, all or
// nothing: a refused request takes no tokens.
type limits struct {
	ip     *ratelimit.Limiter[netip.Prefix] // per client network
	user   *ratelimit.Limiter[string]
	v4, v6 int // prefix lengths of a client network
	// The per-user key is each event's user_id: with tokens on, bindUser
	// has made every one the token's subject.
}

func newLimits(cfg *Config) *limits {
	return &limits{
		ip:   ratelimit.New[netip.Prefix](cfg.IPRate, cfg.IPBurst, cfg.MaxBuckets),
		user: ratelimit.New[string](cfg.UserRate, cfg.UserBurst, cfg.MaxBuckets),
		v4:   cfg.IPPrefixV4, v6: cfg.IPPrefixV6,
	}
}

// network is the client network a (unmapped) address belongs to: its /v4
// or /v6 prefix. The zero Addr is the zero Prefix.
func network(a netip.Addr, v4, v6 int) netip.Prefix {
	bits := v6
	if a.Is4() {
		bits = v4
	}
	p, _ := a.Prefix(bits)
	return p
}

// allow charges one token per event to ip's network and to each event's
// user, or says why not.
func (l *limits) allow(ip netip.Addr, r *request, now time.Time) *httpError {
	if herr := l.overBurst(r); herr != nil {
		return herr
	}
	n, cn := len(r.events), network(ip, l.v4, l.v6)
	if l.ip.Enabled() {
		if ok, wait := l.ip.Take(cn, n, now); !ok {
			return rateLimited(wait, "client network "+cn.String())
		}
	}
	user, wait := l.allowUsers(r, now)
	if user == "" {
		return nil
	}
	if l.ip.Enabled() {
		l.ip.Give(cn, len(r.events))
	}
	return rateLimited(wait, "user "+strconv.Quote(user))
}

// overBurst refuses a request that no wait lets through: more events than
// the per-IP burst, or more events of one user than the per-user burst. It
// counts each user's events into r.users on the way; index is the first
// event past the burst, so a client can split the request there.
func (l *limits) overBurst(r *request) *httpError {
	n := len(r.events)
	if l.ip.Enabled() && n > l.ip.Burst() {
		return burstExceeded(l.ip.Burst(), fmt.Sprintf("%d events in one request: the per-IP burst is %d, so it would never pass", n, l.ip.Burst()))
	}
	if !l.user.Enabled() || n == 1 {
		return nil
	}
	for i := range r.events {
		k := r.events[i].UserID
		if r.users[k]++; r.users[k] > l.user.Burst() {
			return burstExceeded(i, fmt.Sprintf("more than %d events of user %s in one request: the per-user burst is %d, so it would never pass",
				l.user.Burst(), strconv.Quote(k), l.user.Burst()))
		}
	}
	return nil
}

func burstExceeded(index int, msg string) *httpError {
	return &httpError{code: wire.CodeBurstExceeded, msg: msg + "; split the request (GET /v1/config has the limits)", index: index}
}

// allowUsers charges every user of r (counted by overBurst), all or
// nothing, and returns the first user refused and when they could pass.
func (l *limits) allowUsers(r *request, now time.Time) (string, time.Duration) {
	if !l.user.Enabled() {
		return "", 0
	}
	if len(r.events) == 1 {
		u := r.events[0].UserID
		if ok, wait := l.user.Take(u, 1, now); !ok {
			return u, wait
		}
		return "", 0
	}
	for u, n := range r.users {
		if ok, wait := l.user.Take(u, n, now); !ok {
			l.refund(r.users)
			return u, wait
		}
		r.users[u] = -n // taken
	}
	return "", 0
}

func (l *limits) refund(users map[string]int) {
	for u, n := range users {
		if n < 0 {
			l.user.Give(u, -n)
		}
	}
}

// register adds a gauge of each limiter's buckets, the state that grows
// with distinct users and client networks (bounded by MaxBuckets each).
func (l *limits) register(reg prometheus.Registerer) error {
	if err := reg.Register(limiterGauge(l.user, "user")); err != nil {
		return err
	}
	return reg.Register(limiterGauge(l.ip, "ip"))
}

// giveBack returns the tokens allow charged for r, whose events were then
// not stored (Kafka unavailable).
func (l *limits) giveBack(ip netip.Addr, r *request) {
	if l.ip.Enabled() {
		l.ip.Give(network(ip, l.v4, l.v6), len(r.events))
	}
	if !l.user.Enabled() {
		return
	}
	if len(r.events) == 1 {
		l.user.Give(r.events[0].UserID, 1)
		return
	}
	l.refund(r.users)
}

// sweep drops idle buckets.
func (l *limits) sweep(now time.Time) {
	l.ip.Sweep(now)
	l.user.Sweep(now)
}

// limiterGauge is emostream_ingest_ratelimit_buckets{limiter=name}: the
// buckets l holds, the state that grows with distinct keys (bounded by
// MaxBuckets). Every limiter of ingest is declared by it.
func limiterGauge[K comparable](l *ratelimit.Limiter[K], name string) prometheus.Collector {
	return l.Gauge(prometheus.GaugeOpts{Name: "emostream_ingest_ratelimit_buckets",
		Help:        "Token buckets held by a rate limiter (bounded by MaxBuckets; full buckets are dropped).",
		ConstLabels: prometheus.Labels{"limiter": name}})
}
