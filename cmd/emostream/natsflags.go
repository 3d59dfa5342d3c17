package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/natsconn"
)

// natsPasswordEnv holds a stage's NATS password when --nats-password-file
// is not given (never a flag: flags show in ps).
const natsPasswordEnv = "EMOSTREAM_NATS_PASSWORD"

// natsFlags are how a stage reaches the NATS hub: --nats and the
// credentials and TLS flags every stage shares (docs/operations.md, "Stage
// credentials").
type natsFlags struct {
	o natsconn.Options
}

// addNATSFlags adds --nats, the NATS server URL of every command that
// dials one, and the credentials and TLS flags.
func addNATSFlags(fs *flag.FlagSet, defaultURL, usage string) *natsFlags {
	f := &natsFlags{}
	fs.StringVar(&f.o.URL, "nats", defaultURL, usage+"; several comma-separated URLs (every member of a hub cluster) fail over")
	fs.StringVar(&f.o.User, "nats-user", "", "NATS user (ingest, bridge, processor, admin or edge on the hub); its password comes from --nats-password-file or "+natsPasswordEnv)
	fs.StringVar(&f.o.PasswordFile, "nats-password-file", "", "file holding the --nats-user password")
	fs.StringVar(&f.o.NKeyFile, "nats-nkey", "", "NKEY seed file, instead of a user and password")
	fs.StringVar(&f.o.CredsFile, "nats-creds", "", "NATS JWT creds file (operator mode), instead of a user and password")
	fs.StringVar(&f.o.CAFile, "nats-ca", "", "PEM CA that verifies the hub's TLS certificate (turns TLS on)")
	fs.StringVar(&f.o.CertFile, "nats-cert", "", "PEM client certificate, for a hub that verifies clients (with --nats-key)")
	fs.StringVar(&f.o.KeyFile, "nats-key", "", "PEM private key of --nats-cert")
	return f
}

// options returns the connection options, the password read from the
// environment when no file is given.
func (f *natsFlags) options(env *environment) natsconn.Options {
	o := f.o
	if o.PasswordFile == "" {
		o.Password = env.getenv(natsPasswordEnv)
	}
	return o
}

// natsOptions checks the flags and returns the credentials and TLS as
// nats.Options, for a stage config's NATSOptions.
func (f *natsFlags) natsOptions(env *environment) ([]nats.Option, error) {
	opts, err := f.options(env).NATSOptions()
	if err != nil {
		return nil, fmt.Errorf("--nats-…: %w", err)
	}
	return opts, nil
}

// startServer starts s, the nats-server of a hub or a leaf; its error
// names the -c file conf of the command, if any.
func startServer(ctx context.Context, s interface{ StartContext(context.Context) error }, command, conf string) error {
	err := s.StartContext(ctx)
	if err != nil && conf != "" {
		return fmt.Errorf("%s -c %s: %w", command, conf, err)
	}
	return err
}

// hubAuthFlags are the hub-side settings of "emostream hub" and "up": the
// client port's passwords and TLS.
type hubAuthFlags struct {
	authDir       string
	cert, key, ca string
	verify        bool
}

func addHubAuthFlags(fs *flag.FlagSet) *hubAuthFlags {
	f := &hubAuthFlags{}
	fs.StringVar(&f.authDir, "nats-auth-dir", "", "directory of the client port's passwords, <user>.password for ingest, bridge, processor, admin, edge and the read-only monitor; missing ones are created, random, mode 0600. Empty: no credentials (loopback only)")
	fs.StringVar(&f.cert, "tls-cert", "", "PEM certificate: serve the client and leafnode ports over TLS (with --tls-key)")
	fs.StringVar(&f.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.ca, "tls-ca", "", "PEM CA of client certificates (with --tls-verify)")
	fs.BoolVar(&f.verify, "tls-verify", false, "require stages and leaves to present a client certificate signed by --tls-ca")
	return f
}

// tls is the hub's listener TLS.
func (f *hubAuthFlags) tls() fanout.TLSConfig {
	return fanout.TLSConfig{Cert: f.cert, Key: f.key, CA: f.ca, Verify: f.verify}
}

// stagePasswords reads (or creates) the passwords of --nats-auth-dir dir;
// nil without it, which is refused for a client address that is not
// loopback.
func stagePasswords(cmd, dir, listen string) (map[string]string, error) {
	if dir == "" {
		if host, _, err := net.SplitHostPort(listen); err == nil && !loopbackHost(host) {
			return nil, fmt.Errorf("%s: --nats %s is not a loopback address, and clients would connect without credentials: "+
				"give --nats-auth-dir DIR (or run the hub with -c nats.conf); see docs/operations.md, \"Stage credentials\"", cmd, listen)
		}
		return nil, nil
	}
	return readPasswords(dir)
}

func loopbackHost(h string) bool {
	ip := net.ParseIP(h)
	return h == "localhost" || ip != nil && ip.IsLoopback()
}

// readPasswords reads dir/<user>.password for every stage user, writing a
// random one (mode 0600) where none exists.
func readPasswords(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--nats-auth-dir: %w", err)
	}
	out := map[string]string{}
	for _, u := range fanout.StageUsers {
		p, err := readOrCreateSecret(filepath.Join(dir, u+".password"))
		if err != nil {
			return nil, fmt.Errorf("--nats-auth-dir: %w", err)
		}
		out[u] = p
	}
	return out, nil
}

// readOrCreateSecret reads the secret in file, first writing a random one
// (mode 0600) if the file does not exist, so that it stays the same across
// restarts.
func readOrCreateSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		b, err = createSecret(file)
	}
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	if strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-") != "" || len(s) > 128 {
		return "", fmt.Errorf("%s: a NATS password is 1-128 of [A-Za-z0-9._~-] (a .conf file carries it verbatim): write one, or delete the file and one is made", file)
	}
	return s, nil
}

// createSecret writes a random secret to file, unless another process
// (two leaves or hubs started at once on one directory) got there first:
// then it reads theirs. The secret is written whole to a temporary file
// (mode 0600) and linked into place, and a link never replaces a file, so
// nobody reads a half-written or a replaced secret.
func createSecret(file string) ([]byte, error) {
	var r [16]byte
	_, _ = rand.Read(r[:])
	b := []byte(hex.EncodeToString(r[:]) + "\n")
	tmp, err := os.CreateTemp(filepath.Dir(file), ".secret-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err = errors.Join(err, tmp.Close()); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), file); errors.Is(err, os.ErrExist) {
		return os.ReadFile(file)
	} else if err != nil {
		return nil, err
	}
	return b, nil
}
