package fanout

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/template"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Subjects of the permission model. A viewer (and a leaf, towards its hub)
// may receive wire.LiveSubjects and reply inboxes, and may send two kinds
// of request: wire.LatestSwarmRequests, the direct get of the last swarm of
// a match, and wire.SwarmsGet, the read of a match's next stored swarm (a
// leaf and an edge also publish occupancy, wire.ViewersSubjects).
const (
	// HubDomain is the hub's JetStream domain. nats-server never forwards
	// plain $JS.API.> over a leafnode connection, so a leaf forwards a
	// viewer's request under the hub's domain prefix, which the hub maps
	// back to $JS.API.> in the leaves' account.
	HubDomain = "hub"
	inboxes   = "_INBOX.>"
	// serviceReplies are the reply subjects nats-server gives requests that
	// cross an account boundary through a service import.
	serviceReplies = "_R_.>"
)

// hubLatestSwarmRequests is wire.LatestSwarmRequests as it travels between leaf
// and hub.
var hubLatestSwarmRequests = wire.LatestSwarmRequestsIn(HubDomain)

// hubSwarmsGet is wire.SwarmsGet (the viewers' "next" read) as it travels
// between leaf and hub.
var hubSwarmsGet = "$JS." + HubDomain + ".API." + strings.TrimPrefix(wire.SwarmsGet, "$JS.API.")

// ErrBadCredential is wrapped, beside ErrConfig, by the error of a user
// name or password that a .conf file could not carry verbatim.
var ErrBadCredential = errors.New("fanout: user names and passwords must be 1-128 of [A-Za-z0-9._~-]")

// credential is the rule that setting name, a user name or password, is
// safe to write into a .conf string. The value is not shown: it may be a
// secret.
func credential(name, s string) setting.Rule {
	ok := len(s) > 0 && len(s) <= 128
	for _, c := range s {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._~-", c))
	}
	return setting.Check(name, nil, ok, "want 1-128 of [A-Za-z0-9._~-]").Wrapping(ErrBadCredential)
}

// randomSecret returns 32 hex digits from crypto/rand.
func randomSecret() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hostPort splits a listen address; port 0 becomes -1, nats-server's
// "random port".
func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("fanout: listen address %q: %w", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("fanout: listen address %q: bad port", addr)
	}
	if n == 0 {
		n = -1
	}
	return h, n, nil
}

// listen renders "host:port" for a .conf listen line (port -1 = random).
func listen(addr string) (string, error) {
	h, p, err := hostPort(addr)
	if err != nil {
		return "", err
	}
	return quote(net.JoinHostPort(h, strconv.Itoa(p))), nil
}

// quote writes s as a .conf string. nats-server's lexer knows only the
// escapes \xXX, \t, \n, \r, \" and \\ (strconv.Quote's \a or \u00a0
// fail it), so every byte outside printable ASCII is written as \xXX.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var confFuncs = template.FuncMap{
	"q": quote,
	"join": func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = quote(s)
		}
		return strings.Join(q, ", ")
	},
}

func render(t *template.Template, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("fanout: rendering %s: %w", t.Name(), err)
	}
	return b.String(), nil
}
