package ingest

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/clientip"
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
	ip     *limiter[netip.Prefix] // per client network
	user   *limiter[string]
	v4, v6 int // prefix lengths of a client network
	// The per-user key is each event's user_id: with tokens on, bindUser
	// has made every one the token's subject.
}

func newLimits(cfg *Config) *limits {
	return &limits{
		ip:   newLimiter[netip.Prefix](cfg.IPRate, cfg.IPBurst, cfg.MaxBuckets),
		user: newLimiter[string](cfg.UserRate, cfg.UserBurst, cfg.MaxBuckets),
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
	if l.ip.enabled() {
		if ok, wait := l.ip.take(cn, n, now); !ok {
			return rateLimited(wait, "client network "+cn.String())
		}
	}
	user, wait := l.allowUsers(r, now)
	if user == "" {
		return nil
	}
	if l.ip.enabled() {
		l.ip.give(cn, len(r.events))
	}
	return rateLimited(wait, "user "+strconv.Quote(user))
}

// overBurst refuses a request that no wait lets through: more events than
// the per-IP burst, or more events of one user than the per-user burst. It
// counts each user's events into r.users on the way; index is the first
// event past the burst, so a client can split the request there.
func (l *limits) overBurst(r *request) *httpError {
	n := len(r.events)
	if l.ip.enabled() && float64(n) > l.ip.burst {
		return burstExceeded(int(l.ip.burst), fmt.Sprintf("%d events in one request: the per-IP burst is %d, so it would never pass", n, int(l.ip.burst)))
	}
	if !l.user.enabled() || n == 1 {
		return nil
	}
	for i := range r.events {
		k := r.events[i].UserID
		if r.users[k]++; float64(r.users[k]) > l.user.burst {
			return burstExceeded(i, fmt.Sprintf("more than %d events of user %s in one request: the per-user burst is %d, so it would never pass",
				int(l.user.burst), strconv.Quote(k), int(l.user.burst)))
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
	if !l.user.enabled() {
		return "", 0
	}
	if len(r.events) == 1 {
		u := r.events[0].UserID
		if ok, wait := l.user.take(u, 1, now); !ok {
			return u, wait
		}
		return "", 0
	}
	for u, n := range r.users {
		if ok, wait := l.user.take(u, n, now); !ok {
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
			l.user.give(u, -n)
		}
	}
}

// register adds a gauge of each limiter's buckets, the state that grows
// with distinct users and client networks (bounded by MaxBuckets each).
func (l *limits) register(reg prometheus.Registerer) error {
	if err := reg.Register(l.user.gauge("user")); err != nil {
		return err
	}
	return reg.Register(l.ip.gauge("ip"))
}

// giveBack returns the tokens allow charged for r, whose events were then
// not stored (Kafka unavailable).
func (l *limits) giveBack(ip netip.Addr, r *request) {
	if l.ip.enabled() {
		l.ip.give(network(ip, l.v4, l.v6), len(r.events))
	}
	if !l.user.enabled() {
		return
	}
	if len(r.events) == 1 {
		l.user.give(r.events[0].UserID, 1)
		return
	}
	l.refund(r.users)
}

// sweep drops idle buckets.
func (l *limits) sweep(now time.Time) {
	l.ip.sweep(now)
	l.user.sweep(now)
}
