// Package natsconn holds how a stage reaches the NATS hub: its URL,
// credentials (user and password, an NKEY seed or a JWT creds file) and TLS
// (a CA, an optional client certificate). The stages' commands fill one
// Options from their flags; bridge, processor and the registry take the
// nats.Options it builds.
package natsconn

import (
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// ErrOptions is wrapped by every error of Options.NATSOptions.
var ErrOptions = errors.New("natsconn: invalid NATS connection options")

// Options is one connection's settings. The zero value is an anonymous
// plain connection to nats.DefaultURL.
type Options struct {
	// URL is the server URL (several, comma-separated, fail over). Empty
	// means nats.DefaultURL. Credentials in the URL (nats://u:p@host)
	// work too, but show in ps: prefer User and PasswordFile.
	URL string
	// User is the user name; it needs Password or PasswordFile.
	User string
	// Password is User's password, e.g. from the environment.
	Password string
	// PasswordFile holds User's password (surrounding space is trimmed).
	// It wins over Password.
	PasswordFile string
	// NKeyFile is an NKEY seed file (the server lists the public key).
	NKeyFile string
	// CredsFile is a JWT creds file (decentralised auth: operator mode).
	CredsFile string
	// CAFile verifies the server's certificate; setting it requires TLS.
	CAFile string
	// CertFile and KeyFile are a client certificate, for servers that
	// verify clients; setting them requires TLS.
	CertFile, KeyFile string
}

// URLOrDefault is the URL to dial.
func (o Options) URLOrDefault() string {
	if o.URL == "" {
		return nats.DefaultURL
	}
	return o.URL
}

// NATSOptions checks o and returns the nats.Options it describes (not the
// URL). Files are read now, so a missing one fails at start.
func (o Options) NATSOptions() ([]nats.Option, error) {
	var out []nats.Option
	methods := 0
	pw, err := o.password()
	if err != nil {
		return nil, err
	}
	switch {
	case o.User != "" && pw == "":
		return nil, fmt.Errorf("%w: user %q needs a password (file or environment)", ErrOptions, o.User)
	case o.User == "" && pw != "":
		return nil, fmt.Errorf("%w: a password needs a user", ErrOptions)
	case o.User != "":
		out, methods = append(out, nats.UserInfo(o.User, pw)), methods+1
	}
	if o.NKeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: NKEY seed %s: %v", ErrOptions, o.NKeyFile, err)
		}
		out, methods = append(out, opt), methods+1
	}
	if o.CredsFile != "" {
		if _, err := os.Stat(o.CredsFile); err != nil {
			return nil, fmt.Errorf("%w: creds file: %v", ErrOptions, err)
		}
		out, methods = append(out, nats.UserCredentials(o.CredsFile)), methods+1
	}
	if methods > 1 {
		return nil, fmt.Errorf("%w: give one of user and password, NKEY seed, creds file", ErrOptions)
	}
	tls, err := o.tls()
	return append(out, tls...), err
}

func (o Options) password() (string, error) {
	if o.PasswordFile == "" {
		return o.Password, nil
	}
	b, err := os.ReadFile(o.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("%w: password file: %v", ErrOptions, err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("%w: password file %s is empty", ErrOptions, o.PasswordFile)
	}
	return pw, nil
}

func (o Options) tls() ([]nats.Option, error) {
	var out []nats.Option
	for _, f := range []string{o.CAFile, o.CertFile, o.KeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w: TLS file: %v", ErrOptions, err)
		}
	}
	if o.CAFile != "" {
		out = append(out, nats.RootCAs(o.CAFile))
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, fmt.Errorf("%w: a client certificate needs both a certificate and a key file", ErrOptions)
	}
	if o.CertFile != "" {
		out = append(out, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	return out, nil
}

// Connect dials o's URL with o's credentials and TLS, then extra (name,
// reconnect policy, handlers).
func (o Options) Connect(extra ...nats.Option) (*nats.Conn, error) {
	opts, err := o.NATSOptions()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(o.URLOrDefault(), append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s%s: %w", Redact(o.URLOrDefault()), o.as(), RedactError(err, o.URLOrDefault()))
	}
	return nc, nil
}

// as names the identity for an error message (never the secret).
func (o Options) as() string {
	switch {
	case o.User != "":
		return " as " + o.User
	case o.NKeyFile != "":
		return " with NKEY " + o.NKeyFile
	case o.CredsFile != "":
		return " with creds " + o.CredsFile
	}
	return " without credentials"
}

// Redact hides the passwords of urls, one URL or several comma-separated,
// for logs and errors: nats://u:p@host becomes nats://u:xxxxx@host, and
// anything before the last @ of a URL that does not parse is hidden.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, s := range parts {
		at := strings.LastIndex(s, "@")
		if at < 0 {
			continue
		}
		if u, err := neturl.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
			continue
		}
		scheme := strings.Index(s, "://") + len("://")
		if scheme < len("://") || scheme > at {
			scheme = 0
		}
		parts[i] = s[:scheme] + "xxxxx" + s[at:]
	}
	return strings.Join(parts, ",")
}

// RedactError is err with every URL of urls (as Redact takes them) in
// its message redacted; errors.Is and As still see err. nats.go's own
// errors may quote a URL that does not parse whole.
func RedactError(err error, urls string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range strings.Split(urls, ",") {
		if s = strings.TrimSpace(s); s != "" {
			msg = strings.ReplaceAll(msg, s, Redact(s))
		}
	}
	return redactedError{msg, err}
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
