package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
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
	// maxCertValidity bounds --valid and --ca-valid: 20 years.
	maxCertValidity = 20 * 365 * 24 * time.Hour
	minCertValidity = time.Hour
	// certBackdate starts every certificate this much before now, for
	// machines whose clocks are a little behind.
	certBackdate      = 5 * time.Minute
	defaultCertServer = "server"
	maxCertHosts      = 100
	maxCertClients    = 100
	// maxPEMFile bounds what is read of --ca-cert and --ca-key.
	maxPEMFile = 1 << 20
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
	ca      *certIssuer // nil: make a new CA
	force   bool
	now     time.Time
	// caFile and caKeyFile are the CA's files, absolute; caKeyFile only
	// when this run makes the CA.
	caFile, caKeyFile string
	// givenKey is --ca-key, absolute: like caFile, never written.
	givenKey string
}

// certIssuer is a CA that signs.
type certIssuer struct {
	cert *x509.Certificate
	key  crypto.Signer
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
func loadIssuer(certFile, keyFile string, now, notAfter time.Time) (*certIssuer, error) {
	cert, err := readCACert(certFile, now, notAfter)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert %s: %w", certFile, err)
	}
	key, err := readCAKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-key %s: %w", keyFile, err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("--ca-key %s: not the key of --ca-cert %s", keyFile, certFile)
	}
	return &certIssuer{cert: cert, key: key}, nil
}

// readCACert reads the first certificate of path: a CA's, valid from now
// until notAfter.
func readCACert(path string, now, notAfter time.Time) (*x509.Certificate, error) {
	blocks, err := readPEM(path, nil)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(blocks, func(b *pem.Block) bool { return b.Type == "CERTIFICATE" })
	if i < 0 {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(blocks[i].Bytes)
	switch {
	case err != nil:
		return nil, err
	case !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0:
		return nil, fmt.Errorf("%q is not a CA's certificate: it may not sign certificates", cert.Subject.CommonName)
	case now.Before(cert.NotBefore) || now.After(cert.NotAfter):
		return nil, fmt.Errorf("the CA is valid from %s until %s, not now", cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	case notAfter.After(cert.NotAfter):
		return nil, fmt.Errorf("the CA is valid until %s, before the certificates would expire (%s): a shorter --valid, or a new CA",
			cert.NotAfter.Format(time.DateOnly), notAfter.Format(time.DateOnly))
	}
	return cert, nil
}

// readCAKey reads the first private key of path, a file group and others
// have no access to.
func readCAKey(path string) (crypto.Signer, error) {
	blocks, err := readPEM(path, func(st fs.FileInfo) error {
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return fmt.Errorf("mode %04o lets group or others read the CA's key: chmod 0600 it (and consider whether it leaked)", perm)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		var key any
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, errors.New("the key is encrypted: give it unencrypted, on a machine you trust")
		case b.Type == "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case b.Type == "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case b.Type == "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		if s, ok := key.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return nil, errors.New("no PEM private key")
}

// readPEM returns the PEM blocks of a file of at most maxPEMFile bytes,
// after check (if not nil) accepted the open file's mode.
func readPEM(path string, check func(fs.FileInfo) error) ([]*pem.Block, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if check != nil {
		st, err := file.Stat()
		if err != nil {
			return nil, err
		}
		if err := check(st); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(file, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("larger than %d bytes: not a PEM file", maxPEMFile)
	}
	var blocks []*pem.Block
	for {
		p, rest := pem.Decode(b)
		if p == nil {
			return blocks, nil
		}
		blocks, b = append(blocks, p), rest
	}
}

// certFile is one file a run writes, in the plan's directory.
type certFile struct {
	name string
	data []byte
	mode os.FileMode
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
	return writeCertFiles(p.dir, files, p.force)
}

// sign makes the CA (unless given) and the certificates it signs.
func (p *certPlan) sign() ([]certFile, error) {
	var files []certFile
	if p.ca == nil {
		tmpl := certTemplate("EmoStream private CA "+p.now.UTC().Format(time.DateOnly), p.now, p.caValid)
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		ca, pair, err := (&certIssuer{}).issue("ca", tmpl)
		if err != nil {
			return nil, err
		}
		p.ca, files = ca, pair
	}
	if p.server != "" {
		tmpl := certTemplate(p.serverNames()[0], p.now, p.valid) // common name: the first DNS name, else the first address
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames, tmpl.IPAddresses = p.hosts, p.ips
		if err := p.ca.add(&files, p.server, tmpl); err != nil {
			return nil, err
		}
	}
	for _, c := range p.clients {
		tmpl := certTemplate(c, p.now, p.valid)
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if err := p.ca.add(&files, c, tmpl); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func certTemplate(cn string, now time.Time, valid time.Duration) *x509.Certificate {
	return &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn, Organization: []string{"EmoStream"}},
		NotBefore: now.Add(-certBackdate), NotAfter: now.Add(valid),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
}

// add appends the files of a certificate ca signs from tmpl to files.
func (ca *certIssuer) add(files *[]certFile, name string, tmpl *x509.Certificate) error {
	_, pair, err := ca.issue(name, tmpl)
	*files = append(*files, pair...)
	return err
}

// issue makes a P-256 key and its certificate from tmpl, signed by ca (a
// zero ca: self-signed), and returns it as an issuer with the files
// name.pem and name-key.pem.
func (ca *certIssuer) issue(name string, tmpl *x509.Certificate) (*certIssuer, []certFile, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	parent, signer := ca.cert, ca.key
	if parent == nil {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("signing %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return &certIssuer{cert: cert, key: key}, []certFile{
		{name + ".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644},
		{name + "-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600},
	}, nil
}

// writeCertFiles writes files into dir (made, mode 0700, if missing), each
// created anew, so a key never keeps an old file's wider mode; on an error
// it removes what it wrote. With force it writes every file under a
// temporary name first and renames them over the old ones only once all
// are written: a failure leaves the old files as they were.
func writeCertFiles(dir string, files []certFile, force bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	if force {
		return replaceCertFiles(dir, files)
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := writeNewFile(path, f.data, f.mode); err != nil {
			for _, w := range written {
				_ = os.Remove(w)
			}
			return nil, fmt.Errorf("--out %s: %w (removed what this run wrote)", dir, err)
		}
		written = append(written, path)
	}
	return written, nil
}

// replaceCertFiles writes files into dir under temporary names, then
// renames each over its name (a symlink there is replaced, not followed).
func replaceCertFiles(dir string, files []certFile) ([]string, error) {
	var temps, written []string
	removeTemps := func() {
		for _, t := range temps {
			_ = os.Remove(t)
		}
	}
	for _, f := range files {
		tmp, err := os.CreateTemp(dir, "."+f.name+".new-*")
		if err == nil {
			temps = append(temps, tmp.Name())
			err = writeSynced(tmp, f.data, f.mode)
		}
		if err != nil {
			removeTemps()
			return nil, fmt.Errorf("--out %s: %w (nothing was replaced)", dir, err)
		}
	}
	for i, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.Rename(temps[i], path); err != nil {
			removeTemps()
			return nil, fmt.Errorf("--out %s: %w (replaced only %d of %d files)", dir, err, len(written), len(files))
		}
		written = append(written, path)
	}
	return written, nil
}

func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	return writeSynced(f, data, mode)
}

// writeSynced writes data to the new file f, gives it mode, syncs and
// closes it.
func writeSynced(f *os.File, data []byte, mode os.FileMode) error {
	err := f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// print says what the run wrote and which flags give each component its
// files.
func (p *certPlan) print(w io.Writer, written []string) {
	fmt.Fprintf(w, "certs: wrote %s (keys mode 0600)\n", strings.Join(written, ", "))
	if p.caKeyFile != "" {
		fmt.Fprintf(w, "certs: a new CA, valid until %s; keep its key off the servers: it signs more with --ca-cert %s --ca-key %s\n",
			p.ca.cert.NotAfter.Format(time.DateOnly), p.caFile, p.caKeyFile)
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
