package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/emostream/emostream/internal/pki"
)

func init() {
	register(&command{name: "certs", summary: "make a private CA and TLS certificates for the hub, leaves, edges and Kafka (no openssl needed)", run: runCerts})
}

const certsSynopsis = `Makes a private PKI for EmoStream's TLS listeners, without openssl: a CA
(ca.pem, and ca-key.pem, mode 0600), a server certificate for --hosts (the
DNS names and IP addresses clients dial) and, with --client, client
certificates for the listeners that require one (the hub's --tls-verify,
the --tls-client-ca of emostream kafka). Keys are ECDSA P-256, mode 0600.
With --ca-cert and --ca-key it signs with an existing CA instead (a key file
group or others may read is refused). It never overwrites a file without
--force, and prints the flags that give each component its files
(docs/operations.md, "TLS").

  emostream certs --out tls --hosts hub.example.com,10.0.0.5 --server hub --client stages,leaf
  emostream certs --out tls --ca-cert tls/ca.pem --ca-key tls/ca-key.pem --client admin`

// Defaults and bounds of emostream certs.
const (
	defaultCertValidity = 365 * 24 * time.Hour
	defaultCAValidity   = 10 * 365 * 24 * time.Hour
	// maxCertValidity bounds --valid and --ca-valid: the signer's bound,
	// 20 years.
	maxCertValidity   = pki.MaxValidity
	minCertValidity   = time.Hour
	defaultCertServer = "server"
	maxCertHosts      = 100
	maxCertClients    = 100
)

// certValidityRange is the range of --valid, as help and errors say it.
var certValidityRange = hours(minCertValidity) + " to " + hours(maxCertValidity) + " (20 years)"

// hours is d in whole hours, as a flag takes it: 8760h.
func hours(d time.Duration) string { return fmt.Sprintf("%dh", int64(d/time.Hour)) }

// certsFlags are the flags of "emostream certs".
type certsFlags struct {
	out, hosts, server, clients, caCert, caKey string
	valid, caValid                             time.Duration
	force                                      bool
}

func addCertsFlags(fs *flag.FlagSet) *certsFlags {
	f := &certsFlags{}
	fs.StringVar(&f.out, "out", "", "directory to write the PEM files to, created (mode 0700) if missing (required)")
	fs.StringVar(&f.hosts, "hosts", "", fmt.Sprintf("the server certificate's DNS names and IP addresses, comma-separated, at most %d (a *. wildcard as the first label); required unless --client names certificates for an existing CA", maxCertHosts))
	fs.StringVar(&f.server, "server", defaultCertServer, "file name of the server certificate: <name>.pem and <name>-key.pem")
	fs.StringVar(&f.clients, "client", "", fmt.Sprintf("client certificates to make, names comma-separated (at most %d): <name>.pem and <name>-key.pem each", maxCertClients))
	fs.StringVar(&f.caCert, "ca-cert", "", "PEM certificate of an existing CA to sign with (with --ca-key); empty: make a new CA, ca.pem and ca-key.pem")
	fs.StringVar(&f.caKey, "ca-key", "", "PEM private key of --ca-cert, readable by its owner only")
	fs.DurationVar(&f.valid, "valid", defaultCertValidity, "how long the server and client certificates are valid (8760h is a year): "+certValidityRange)
	fs.DurationVar(&f.caValid, "ca-valid", defaultCAValidity, "how long a new CA is valid, from --valid to "+hours(maxCertValidity)+" (20 years)")
	fs.BoolVar(&f.force, "force", false, "overwrite files that exist; without it an existing file is refused and nothing is written")
	return f
}

// certPlan is what one run makes, checked: the certificates to sign and
// the files to write.
type certPlan struct {
	dir     string // absolute
	hosts   []string
	ips     []net.IP
	server  string // empty: no server certificate
	clients []string
	valid   time.Duration
	caValid time.Duration
	ca      *pki.Issuer // nil: make a new CA
	force   bool
	now     time.Time
	// caFile and caKeyFile are the CA's files, absolute; caKeyFile only
	// when this run makes the CA.
	caFile, caKeyFile string
	// givenKey is --ca-key, absolute: like caFile, never written.
	givenKey string
}

func runCerts(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "certs", certsSynopsis)
	f := addCertsFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	p, err := f.plan(fs, time.Now())
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	written, err := p.make()
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	p.print(env.stdout, written)
	return nil
}

// plan checks the flags, naming the one at fault, and loads a given CA.
func (f *certsFlags) plan(fs *flag.FlagSet, now time.Time) (*certPlan, error) {
	p := &certPlan{valid: f.valid, caValid: f.caValid, force: f.force, now: now}
	var err error
	if p.dir, err = certsOut(f.out); err != nil {
		return nil, err
	}
	if p.hosts, p.ips, err = parseCertHosts(f.hosts); err != nil {
		return nil, fmt.Errorf("--hosts: %w", err)
	}
	if p.clients, err = certNames("--client", splitList(f.clients), maxCertClients); err != nil {
		return nil, err
	}
	if err := f.checkValidity(fs, now); err != nil {
		return nil, err
	}
	if err := p.needs(f); err != nil {
		return nil, err
	}
	if f.caCert != "" {
		p.caFile, _ = filepath.Abs(f.caCert)
		p.givenKey, _ = filepath.Abs(f.caKey)
		p.ca, err = loadIssuer(f.caCert, f.caKey, now, now.Add(f.valid))
		return p, err
	}
	p.caFile, p.caKeyFile = filepath.Join(p.dir, "ca.pem"), filepath.Join(p.dir, "ca-key.pem")
	return p, nil
}

// needs checks that the run makes something, and the CA flags go together.
func (p *certPlan) needs(f *certsFlags) error {
	if (f.caCert == "") != (f.caKey == "") {
		return errors.New("--ca-cert and --ca-key go together")
	}
	if len(p.hosts)+len(p.ips) > 0 {
		names, err := certNames("--server", []string{f.server}, 1)
		if err != nil {
			return err
		}
		p.server = names[0]
	}
	if p.server == "" && (f.caCert == "" || len(p.clients) == 0) {
		return errors.New("--hosts: empty: name the DNS names and IP addresses clients dial (--hosts may be left out only to add --client certificates to an existing CA)")
	}
	return nil
}

// certsOut is the absolute --out.
func certsOut(out string) (string, error) {
	if out == "" {
		return "", errors.New("--out: required: the directory to write the certificates to")
	}
	dir, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("--out %s: %w", out, err)
	}
	return dir, nil
}

// checkValidity bounds --valid and --ca-valid.
func (f *certsFlags) checkValidity(fs *flag.FlagSet, now time.Time) error {
	if f.valid < minCertValidity || f.valid > maxCertValidity {
		return fmt.Errorf("--valid %s: want %s (until %s at most)", f.valid, certValidityRange, now.Add(maxCertValidity).Format(time.DateOnly))
	}
	if f.caCert != "" {
		if given(fs)["ca-valid"] {
			return errors.New("--ca-valid with --ca-cert: the CA exists, and its own validity stands")
		}
		return nil
	}
	if f.caValid < f.valid || f.caValid > maxCertValidity {
		return fmt.Errorf("--ca-valid %s: want --valid (%s) to %s: the CA must outlast its certificates", f.caValid, f.valid, hours(maxCertValidity))
	}
	return nil
}

// dnsLabel is one label of a host name: letters, digits and inner hyphens.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// parseCertHosts splits --hosts into DNS names (lowercased) and IP
// addresses, refusing anything a certificate cannot name; duplicates are
// dropped.
func parseCertHosts(list string) ([]string, []net.IP, error) {
	var names []string
	var ips []net.IP
	items := splitList(list)
	if len(items) > maxCertHosts {
		return nil, nil, fmt.Errorf("%d names: want at most %d", len(items), maxCertHosts)
	}
	for _, h := range items {
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.Zone() != "" || ip.Unmap().IsUnspecified() {
				return nil, nil, fmt.Errorf("%q: want an IP address clients dial, without a zone", h)
			}
			if ip = ip.Unmap(); !slices.ContainsFunc(ips, func(x net.IP) bool { return x.Equal(ip.AsSlice()) }) {
				ips = append(ips, ip.AsSlice())
			}
			continue
		}
		if !validCertName(h) {
			return nil, nil, fmt.Errorf("%q: want a DNS name (letters, digits, inner hyphens; labels of at most 63, *. as the first) or an IP address, without a port or a scheme", h)
		}
		if h = strings.ToLower(h); !slices.Contains(names, h) {
			names = append(names, h)
		}
	}
	return names, ips, nil
}

// validCertName reports whether h is a DNS name a certificate may carry:
// at most 253 bytes, labels of dnsLabel, a wildcard only as the whole
// first label of a name of at least three labels.
func validCertName(h string) bool {
	labels := strings.Split(strings.ToLower(h), ".")
	if len(h) > 253 || labels[0] == "*" && len(labels) < 3 {
		return false
	}
	for i, l := range labels {
		if !(dnsLabel.MatchString(l) || i == 0 && l == "*") {
			return false
		}
	}
	return true
}

// certFileName is a name that makes the files <name>.pem, <name>-key.pem.
var certFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// certNames checks the names of flag: file names, distinct, at most max,
// and never the CA's.
func certNames(flagName string, names []string, max int) ([]string, error) {
	if len(names) > max {
		return nil, fmt.Errorf("%s: %d names: want at most %d", flagName, len(names), max)
	}
	for i, n := range names {
		switch {
		case !certFileName.MatchString(n) || strings.HasSuffix(n, ".pem"):
			return nil, fmt.Errorf("%s %q: want a file name: letters, digits, '.', '_' and '-', at most 64, without .pem", flagName, n)
		case n == "ca" || n == "ca-key":
			return nil, fmt.Errorf("%s %q: the CA's files are ca.pem and ca-key.pem", flagName, n)
		case slices.Contains(names[:i], n):
			return nil, fmt.Errorf("%s %q: named twice", flagName, n)
		}
	}
	return names, nil
}

// loadIssuer reads an existing CA that must be valid from now until
// notAfter; its key file must be its owner's alone.
func loadIssuer(certFile, keyFile string, now, notAfter time.Time) (*pki.Issuer, error) {
	cert, err := pki.ReadCACert(certFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert %s: %w", certFile, err)
	}
	key, err := pki.ReadCAKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-key %s: %w", keyFile, err)
	}
	ca, err := pki.NewIssuer(cert, key)
	if err != nil {
		return nil, fmt.Errorf("--ca-key %s: not the key of --ca-cert %s", keyFile, certFile)
	}
	if err := ca.Covers(now, notAfter); err != nil {
		return nil, fmt.Errorf("--ca-cert %s, --valid %s: %w", certFile, hours(notAfter.Sub(now)), err)
	}
	return ca, nil
}

// fileNames are the files the plan writes, in order: the CA's (when it
// makes one), the server's, the clients'.
func (p *certPlan) fileNames() []string {
	var names []string
	if p.ca == nil {
		names = append(names, "ca.pem", "ca-key.pem")
	}
	for _, n := range append([]string{p.server}, p.clients...) {
		if n != "" {
			names = append(names, n+".pem", n+"-key.pem")
		}
	}
	return names
}

// checkFiles refuses names that collide, a name that is a given CA's
// file, an existing one that is no file and, without force, files that
// exist, before anything is made.
func (p *certPlan) checkFiles() error {
	st, err := os.Stat(p.dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("--out %s: not a directory", p.dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--out %s: %w", p.dir, err)
	}
	var exist []string
	names := p.fileNames()
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("--server and --client: both would write %s: choose other names", n)
		}
		path := filepath.Join(p.dir, n)
		if name, given := p.givenCAFile(path); given != "" {
			return fmt.Errorf("--server and --client: %s is the CA's file (%s %s): choose another name", n, name, given)
		}
		st, err := os.Lstat(path)
		if err != nil {
			continue
		}
		if !st.Mode().IsRegular() && st.Mode().Type() != fs.ModeSymlink {
			return fmt.Errorf("--out %s: %s is there and not a file: nothing was written", p.dir, n)
		}
		exist = append(exist, n)
	}
	if len(exist) > 0 && !p.force {
		return fmt.Errorf("--out %s: %s already there: --force overwrites (nothing was written)", p.dir, strings.Join(exist, ", "))
	}
	return nil
}

// givenCAFile is the flag and file of the given CA (--ca-cert, --ca-key)
// that path is, by name or, through a link, by file; empty if neither.
func (p *certPlan) givenCAFile(path string) (name, file string) {
	st, err := os.Stat(path)
	for _, g := range [][2]string{{"--ca-cert", p.caFile}, {"--ca-key", p.givenKey}} {
		if p.ca == nil || g[1] == "" {
			continue
		}
		if path == g[1] {
			return g[0], g[1]
		}
		if gst, gerr := os.Stat(g[1]); err == nil && gerr == nil && os.SameFile(st, gst) {
			return g[0], g[1]
		}
	}
	return "", ""
}

// make signs the certificates and writes them; it writes all or nothing.
func (p *certPlan) make() ([]string, error) {
	if err := p.checkFiles(); err != nil {
		return nil, err
	}
	files, err := p.sign()
	if err != nil {
		return nil, err
	}
	written, err := pki.Write(p.dir, files, p.force)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", p.dir, err)
	}
	return written, nil
}

// sign makes the CA (unless given) and the certificates it signs.
func (p *certPlan) sign() ([]pki.File, error) {
	var files []pki.File
	if p.ca == nil {
		ca, err := pki.NewCA(pki.Request{CommonName: "EmoStream private CA " + p.now.UTC().Format(time.DateOnly), Now: p.now, Valid: p.caValid})
		if err != nil {
			return nil, err
		}
		p.ca, files = &ca.Issuer, ca.Files("ca")
	}
	add := func(name string, r pki.Request) error {
		r.Now, r.Valid = p.now, p.valid
		c, err := p.ca.Sign(r)
		if err != nil {
			return fmt.Errorf("signing %s: %w", name, err)
		}
		files = append(files, c.Files(name)...)
		return nil
	}
	if p.server != "" { // common name: the first DNS name, else the first address
		if err := add(p.server, pki.Request{CommonName: p.serverNames()[0], DNSNames: p.hosts, IPs: p.ips, Server: true, Client: true}); err != nil {
			return nil, err
		}
	}
	for _, c := range p.clients {
		if err := add(c, pki.Request{CommonName: c, Client: true}); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// print says what the run wrote and which flags give each component its
// files.
func (p *certPlan) print(w io.Writer, written []string) {
	fmt.Fprintf(w, "certs: wrote %s (keys mode 0600)\n", strings.Join(written, ", "))
	if p.caKeyFile != "" {
		fmt.Fprintf(w, "certs: a new CA, valid until %s; keep its key off the servers: it signs more with --ca-cert %s --ca-key %s\n",
			p.ca.Cert.NotAfter.Format(time.DateOnly), p.caFile, p.caKeyFile)
	} else {
		fmt.Fprintf(w, "certs: signed by the CA of %s\n", p.caFile)
	}
	if p.server != "" {
		p.printServer(w)
	}
	p.printClients(w)
}

// pair is the certificate and key file of name.
func (p *certPlan) pair(name string) (cert, key string) {
	return filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
}

// printServer gives the flags of the listeners that take the server
// certificate; they verify client certificates when the run made some.
func (p *certPlan) printServer(w io.Writer) {
	c, k := p.pair(p.server)
	hub, conf := "", ""
	if len(p.clients) > 0 {
		hub, conf = " --tls-ca "+p.caFile+" --tls-verify", fmt.Sprintf(", ca_file: %q, verify: true", p.caFile)
	}
	fmt.Fprintf(w, "\nThe server certificate, for %s, valid until %s:\n", strings.Join(p.serverNames(), ", "), p.now.Add(p.valid).Format(time.DateOnly))
	fmt.Fprintf(w, "  hub:              emostream hub --tls-cert %s --tls-key %s%s\n", c, k, hub)
	fmt.Fprintf(w, "  a hub's .conf:    tls { cert_file: %q, key_file: %q%s }\n", c, k, conf)
	fmt.Fprintf(w, "  wss:// viewers:   emostream leaf (or edge) --tls-cert %s --tls-key %s\n", c, k)
	fmt.Fprintf(w, "  Kafka (tests):    emostream kafka --tls-cert %s --tls-key %s --tls-client-ca %s\n", c, k, p.caFile)
}

// printClients gives the flags of the clients: the CA, and the first
// client certificate where the run made some.
func (p *certPlan) printClients(w io.Writer) {
	fmt.Fprintf(w, "\nClients verify the servers with the CA")
	nats, remote, kafka := "", "", ""
	if len(p.clients) > 0 {
		c, k := p.pair(p.clients[0])
		fmt.Fprintf(w, " and show a client certificate (%s, valid until %s; the lines below use %s)",
			strings.Join(p.clients, ", "), p.now.Add(p.valid).Format(time.DateOnly), p.clients[0])
		nats, remote, kafka = " --nats-cert "+c+" --nats-key "+k, " --remote-cert "+c+" --remote-key "+k, " --kafka-cert "+c+" --kafka-key "+k
	}
	fmt.Fprintln(w, ":")
	fmt.Fprintf(w, "  stages to a hub:  --nats-ca %s%s\n", p.caFile, nats)
	fmt.Fprintf(w, "  leaf to a hub:    emostream leaf --remote-ca %s%s\n", p.caFile, remote)
	fmt.Fprintf(w, "  stages to Kafka:  --kafka-ca %s%s\n", p.caFile, kafka)
}

// serverNames are the server certificate's names, DNS names first, as
// printed.
func (p *certPlan) serverNames() []string {
	names := slices.Clone(p.hosts)
	for _, ip := range p.ips {
		names = append(names, ip.String())
	}
	return names
}
