package fanout

import (
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/internal/setting"
)

// ErrFileOnly is wrapped, beside ErrConfig, by the error of a setting that
// a configuration file must carry itself (credentials, TLS) when a
// ConfigFile is given.
var ErrFileOnly = errors.New("fanout: with a configuration file, credentials and TLS come from the file")

// ErrConfig is wrapped by every error of NewHub, NewLeaf and NewWatcher
// about their configs.
var ErrConfig = errors.New("fanout: invalid config")

// fileOnly is the rule that setting name, which a configuration file must
// carry itself, is not set (set false) beside one.
func fileOnly(name string, set bool) setting.Rule {
	return setting.Check(name, nil, !set, "want it in the configuration file (ConfigFile), not beside it").Wrapping(ErrFileOnly)
}

// overrideListen sets host and port from a non-empty listen address, as
// nats-server's own flags override its configuration file.
func overrideListen(addr string, host *string, port *int) error {
	if addr == "" {
		return nil
	}
	h, p, err := hostPort(addr)
	if err != nil {
		return err
	}
	*host, *port = h, p
	return nil
}

// storeDir is the store_dir that keeps JetStream's data in dataDir/jetstream:
// nats-server adds the "jetstream" itself. A store left by an earlier
// version in dataDir/jetstream/jetstream is kept in use.
func storeDir(dataDir string) string {
	old := filepath.Join(dataDir, "jetstream")
	if fi, err := os.Stat(filepath.Join(old, "jetstream")); err == nil && fi.IsDir() {
		return old
	}
	return dataDir
}

// overrideRemotes replaces the URLs of a file's one leafnode remote, keeping
// its account and TLS.
func overrideRemotes(opts *server.Options, remotes []string) error {
	if len(remotes) == 0 {
		return nil
	}
	if len(opts.LeafNode.Remotes) != 1 {
		return fmt.Errorf("fanout: remotes override: the file has %d leafnode remotes, want 1", len(opts.LeafNode.Remotes))
	}
	var urls []*neturl.URL
	for _, r := range remotes {
		u, err := neturl.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("fanout: remote %q: want nats-leaf://user:password@host:port", redact(r))
		}
		urls = append(urls, u)
	}
	opts.LeafNode.Remotes[0].URLs = urls
	return nil
}

// redact hides the password of a remote URL in an error; of a URL that
// does not parse, everything between :// and the last @.
func redact(s string) string {
	u, err := neturl.Parse(s)
	if err == nil && u.User != nil {
		return u.Redacted()
	}
	at := strings.LastIndex(s, "@")
	if err == nil || at < 0 {
		return s
	}
	scheme := strings.Index(s, "://") + len("://")
	if scheme < len("://") || scheme > at {
		scheme = 0
	}
	return s[:scheme] + "xxxxx" + s[at:]
}

// remotesRule checks that every remote URL parses and names a host, in
// an error that never shows its password (nats-server's own parse error
// would quote the URL whole).
func remotesRule(remotes []string) setting.Rule {
	for _, r := range remotes {
		if u, err := neturl.Parse(r); err != nil || u.Host == "" {
			return setting.Check("Remotes", nil, false, "want nats-leaf://user:password@host:port, got "+strconv.Quote(redact(r)))
		}
	}
	return setting.Check("Remotes", nil, true, "")
}
