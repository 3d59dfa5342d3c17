package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/pki"
	"github.com/emostream/emostream/internal/testenv"
)

// makeCerts runs "emostream certs" with args into a new directory and
// returns it and the output; the command must succeed.
func makeCerts(t *testing.T, args ...string) (dir, out string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "tls")
	out, err := runCLI(t, append([]string{"certs", "--out", dir}, args...)...)
	if err != nil {
		t.Fatalf("certs %v: %v\n%s", args, err, out)
	}
	return dir, out
}

// printedFlags are the flags certs printed on its line that starts with
// label (e.g. "hub:").
func printedFlags(t *testing.T, out, label, prefix string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + ` +` + regexp.QuoteMeta(prefix) + `(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no line %q %q in the output:\n%s", label, prefix, out)
	}
	return strings.Fields(m[1])
}

// readCert parses the first certificate of a PEM file.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertsServeTheHub: the hub started with the flags certs printed
// serves TLS with the server certificate and requires a client
// certificate; a stage given the printed client flags lists the matches
// over TLS; a client that does not trust the CA, one without a client
// certificate and one whose certificate another CA signed are refused.
func TestCertsServeTheHub(t *testing.T) {
	dir, out := makeCerts(t, "--hosts", "127.0.0.1,localhost", "--server", "hub", "--client", "stages,leaf")
	other, _ := makeCerts(t, "--hosts", "127.0.0.1,localhost", "--client", "stages")
	hubArgs := append([]string{"hub", "--data-dir", t.TempDir(), "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0",
		"--monitor", ""}, printedFlags(t, out, "hub:", "emostream hub ")...)
	var hubOut testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &hubOut, stderr: &hubOut, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, env, hubArgs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v\n%s", err, hubOut.String())
		}
	})
	re := regexp.MustCompile(`stages connect to nats://(\S+)`)
	testenv.WaitFor(t, 20*time.Second, "the hub started", func() bool { return re.MatchString(hubOut.String()) })
	addr := re.FindStringSubmatch(hubOut.String())[1]

	stage := append([]string{"match", "ls", "--nats", "tls://" + addr}, printedFlags(t, out, "stages to a hub:", "")...)
	if got, err := runCLI(t, stage...); err != nil {
		t.Fatalf("%v: %v\n%s", stage, err, got)
	}
	// the control: the other client certificate, with the CA, is admitted
	ours, theirs := nats.RootCAs(filepath.Join(dir, "ca.pem")), nats.RootCAs(filepath.Join(other, "ca.pem"))
	nc, err := nats.Connect("tls://"+addr, ours, nats.ClientCert(filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "leaf-key.pem")))
	if err != nil {
		t.Fatalf("leaf's client certificate: %v", err)
	}
	nc.Close()
	refused := []struct {
		name string
		opts []nats.Option
		want string
	}{
		{"untrusted CA", []nats.Option{theirs, nats.ClientCert(filepath.Join(dir, "stages.pem"), filepath.Join(dir, "stages-key.pem"))}, "certificate signed by unknown authority"},
		{"no client certificate", []nats.Option{ours}, ""},
		{"another CA's client", []nats.Option{ours, nats.ClientCert(filepath.Join(other, "stages.pem"), filepath.Join(other, "stages-key.pem"))}, ""},
	}
	for _, r := range refused {
		nc, err := nats.Connect("tls://"+addr, append(r.opts, nats.MaxReconnects(0))...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: accepted", r.name)
		} else if !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: %v, want %q", r.name, err, r.want)
		}
	}
}

// TestCertsFiles: the files certs writes: a P-256 CA that signs no other
// CA, a server certificate for every host given (DNS names, IPv4, IPv6,
// a wildcard), client certificates good for client authentication only,
// keys readable by their owner alone, the validities asked for.
func TestCertsFiles(t *testing.T) {
	start := time.Now()
	dir, out := makeCerts(t, "--hosts", "hub.example.com, *.leaves.example.com,10.0.0.5,::1,Hub.Example.com", "--client", "stages", "--valid", "720h")
	roots := x509.NewCertPool()
	ca := readCert(t, filepath.Join(dir, "ca.pem"))
	roots.AddCert(ca)
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, MaxPathLen %d (zero %v), KeyUsage %v", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if got := ca.NotAfter.Sub(start); got < defaultCAValidity-time.Minute || got > defaultCAValidity+time.Minute {
		t.Errorf("CA valid for %s, want %s", got, defaultCAValidity)
	}
	server := readCert(t, filepath.Join(dir, "server.pem"))
	for _, host := range []string{"hub.example.com", "edge-1.leaves.example.com", "10.0.0.5", "::1"} {
		if _, err := server.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if got, want := server.DNSNames, []string{"hub.example.com", "*.leaves.example.com"}; !slices.Equal(got, want) {
		t.Errorf("DNS names %q, want %q (lowercased, once)", got, want)
	}
	if got := server.NotAfter.Sub(start); got < 720*time.Hour-time.Minute || got > 720*time.Hour+time.Minute {
		t.Errorf("server certificate valid for %s, want 720h", got)
	}
	client := readCert(t, filepath.Join(dir, "stages.pem"))
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots}); err == nil {
		t.Error("the client certificate serves TLS")
	}
	for _, c := range []*x509.Certificate{ca, server, client} {
		if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Errorf("%s: key %T, want ECDSA P-256", c.Subject.CommonName, c.PublicKey)
		}
	}
	for _, name := range []string{"ca-key.pem", "server-key.pem", "stages-key.pem"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", name, st.Mode(), err)
		}
	}
	for _, want := range []string{filepath.Join(dir, "ca-key.pem"), "--tls-cert " + filepath.Join(dir, "server.pem"), "--kafka-cert " + filepath.Join(dir, "stages.pem")} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not name %s:\n%s", want, out)
		}
	}
}

// TestCertsReuseCA: with --ca-cert and --ca-key certs signs a client
// certificate with an existing CA, writes no CA, and the certificate
// verifies against it.
func TestCertsReuseCA(t *testing.T) {
	first, _ := makeCerts(t, "--hosts", "localhost")
	caCert, caKey := filepath.Join(first, "ca.pem"), filepath.Join(first, "ca-key.pem")
	dir, out := makeCerts(t, "--ca-cert", caCert, "--ca-key", caKey, "--client", "edge-2")
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"edge-2-key.pem", "edge-2.pem"}; !slices.Equal(names, want) {
		t.Errorf("wrote %v, want %v", names, want)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, caCert))
	c := readCert(t, filepath.Join(dir, "edge-2.pem"))
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	if !strings.Contains(out, "signed by the CA of "+caCert) || !strings.Contains(out, "--remote-cert "+filepath.Join(dir, "edge-2.pem")) {
		t.Errorf("output:\n%s", out)
	}
}

// snapshot is a directory's files, their modes and their contents' hashes.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		info, _ := e.Info()
		fmt.Fprintf(&b, "%s %v %x\n", e.Name(), info.Mode(), sha256.Sum256(data))
	}
	return b.String()
}

// TestCertsRefusals: each bad input is refused with an error naming the
// flag at fault, and changes nothing in --out.
func TestCertsRefusals(t *testing.T) {
	base := t.TempDir()
	ca, _ := makeCerts(t, "--hosts", "localhost")
	short, _ := makeCerts(t, "--hosts", "localhost", "--ca-valid", "48h", "--valid", "24h")
	other, _ := makeCerts(t, "--hosts", "localhost")
	caCert, caKey := filepath.Join(ca, "ca.pem"), filepath.Join(ca, "ca-key.pem")
	openKey := filepath.Join(base, "open-key.pem")
	copyFile(t, caKey, openKey, 0o644)
	encrypted := filepath.Join(base, "encrypted-key.pem")
	writeFile(t, encrypted, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}), 0o600)
	huge := filepath.Join(base, "huge.pem")
	writeFile(t, huge, bytes.Repeat([]byte("x"), pki.MaxPEMFile+1), 0o644)
	aFile := filepath.Join(base, "a-file")
	writeFile(t, aFile, []byte("x"), 0o644)
	var hosts []string
	for i := range maxCertHosts + 1 {
		hosts = append(hosts, fmt.Sprintf("h%d.example", i))
	}
	manyHosts := strings.Join(hosts, ",")
	tests := []struct {
		name string
		args []string // after --out DIR, unless they give --out
		want string
	}{
		{"no out", []string{"--out", "", "--hosts", "localhost"}, "--out: required"},
		{"no hosts", nil, "--hosts: empty"},
		{"empty hosts", []string{"--hosts", " , "}, "--hosts: empty"},
		{"clients without a CA", []string{"--client", "stages"}, "--hosts: empty"},
		{"underscore", []string{"--hosts", "bad_name"}, `--hosts: "bad_name": want a DNS name`},
		{"port", []string{"--hosts", "hub:4222"}, `--hosts: "hub:4222"`},
		{"scheme", []string{"--hosts", "https://hub"}, `--hosts: "https://hub"`},
		{"bare wildcard", []string{"--hosts", "*.com"}, `--hosts: "*.com"`},
		{"inner wildcard", []string{"--hosts", "a.*.example.com"}, `--hosts: "a.*.example.com"`},
		{"hyphen first", []string{"--hosts", "-a.example"}, `--hosts: "-a.example"`},
		{"empty label", []string{"--hosts", "a..example"}, `--hosts: "a..example"`},
		{"trailing dot", []string{"--hosts", "a.example."}, `--hosts: "a.example."`},
		{"long label", []string{"--hosts", strings.Repeat("a", 64) + ".example"}, "want a DNS name"},
		{"long name", []string{"--hosts", strings.Repeat("a.", 127) + "ab"}, "want a DNS name"},
		{"zone", []string{"--hosts", "fe80::1%eth0"}, `--hosts: "fe80::1%eth0": want an IP address clients dial, without a zone`},
		{"unspecified", []string{"--hosts", "localhost,0.0.0.0"}, `--hosts: "0.0.0.0": want an IP address clients dial`},
		{"unspecified v6", []string{"--hosts", "::ffff:0.0.0.0"}, `--hosts: "::ffff:0.0.0.0": want an IP address clients dial`},
		{"too many hosts", []string{"--hosts", manyHosts}, fmt.Sprintf("--hosts: %d names: want at most %d", maxCertHosts+1, maxCertHosts)},
		{"zero validity", []string{"--hosts", "localhost", "--valid", "0s"}, "--valid 0s: want 1h to 175200h (20 years)"},
		{"negative validity", []string{"--hosts", "localhost", "--valid", "-24h"}, "--valid -24h0m0s: want"},
		{"short validity", []string{"--hosts", "localhost", "--valid", "30m"}, "--valid 30m0s: want"},
		{"validity to the year 2318", []string{"--hosts", "localhost", "--valid", "2562047h"}, "--valid 2562047h0m0s: want 1h to 175200h (20 years) (until "},
		{"CA shorter than its certificates", []string{"--hosts", "localhost", "--ca-valid", "1h"}, "--ca-valid 1h0m0s: want --valid (8760h0m0s)"},
		{"CA past the bound", []string{"--hosts", "localhost", "--ca-valid", "175201h"}, "--ca-valid 175201h0m0s: want --valid (8760h0m0s) to 175200h: the CA must outlast"},
		{"client path", []string{"--hosts", "localhost", "--client", "../x"}, `--client "../x": want a file name`},
		{"client .pem", []string{"--hosts", "localhost", "--client", "x.pem"}, `--client "x.pem"`},
		{"client ca", []string{"--hosts", "localhost", "--client", "ca"}, `--client "ca": the CA's files`},
		{"client twice", []string{"--hosts", "localhost", "--client", "a,a"}, `--client "a": named twice`},
		{"too many clients", []string{"--hosts", "localhost", "--client", strings.Repeat("c,", maxCertClients) + "c"}, "--client: 101 names"},
		{"server ca-key", []string{"--hosts", "localhost", "--server", "ca-key"}, `--server "ca-key": the CA's files`},
		{"server empty", []string{"--hosts", "localhost", "--server", ""}, `--server "": want a file name`},
		{"server is a client", []string{"--hosts", "localhost", "--server", "hub", "--client", "hub"}, "--server and --client: both would write hub.pem"},
		{"client is a key", []string{"--hosts", "localhost", "--client", "x,x-key"}, "--server and --client: both would write x-key.pem"},
		{"ca-cert alone", []string{"--hosts", "localhost", "--ca-cert", caCert}, "--ca-cert and --ca-key go together"},
		{"ca-key alone", []string{"--hosts", "localhost", "--ca-key", caKey}, "--ca-cert and --ca-key go together"},
		{"open CA key", []string{"--client", "x", "--ca-cert", caCert, "--ca-key", openKey}, "--ca-key " + openKey + ": mode 0644 lets group or others read the CA's key"},
		{"another CA's key", []string{"--client", "x", "--ca-cert", caCert, "--ca-key", filepath.Join(other, "ca-key.pem")}, "not the key of --ca-cert"},
		{"not a CA", []string{"--client", "x", "--ca-cert", filepath.Join(ca, "server.pem"), "--ca-key", filepath.Join(ca, "server-key.pem")}, `"localhost" is not a CA's certificate`},
		{"not a PEM", []string{"--client", "x", "--ca-cert", aFile, "--ca-key", caKey}, "--ca-cert " + aFile + ": no PEM certificate"},
		{"huge", []string{"--client", "x", "--ca-cert", huge, "--ca-key", caKey}, "larger than 1048576 bytes"},
		{"missing", []string{"--client", "x", "--ca-cert", filepath.Join(base, "nope.pem"), "--ca-key", caKey}, "no such file"},
		{"encrypted", []string{"--client", "x", "--ca-cert", caCert, "--ca-key", encrypted}, "the key is encrypted"},
		{"ca-valid with ca-cert", []string{"--client", "x", "--ca-cert", caCert, "--ca-key", caKey, "--ca-valid", "8760h"}, "--ca-valid with --ca-cert"},
		{"outlasts the CA", []string{"--client", "x", "--ca-cert", filepath.Join(short, "ca.pem"), "--ca-key", filepath.Join(short, "ca-key.pem"), "--valid", "72h"},
			"--valid 72h: the CA is valid until " + readCert(t, filepath.Join(short, "ca.pem")).NotAfter.Format(time.DateOnly) + ", before the certificates would expire"},
		{"out is a file", []string{"--out", aFile, "--hosts", "localhost"}, "--out " + aFile + ": not a directory"},
		{"out under a file", []string{"--out", filepath.Join(aFile, "tls"), "--hosts", "localhost"}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			args := tt.args
			if !slices.Contains(args, "--out") {
				args = append([]string{"--out", dir}, args...)
			}
			before := snapshot(t, base) + snapshot(t, ca)
			out, err := runCLI(t, append([]string{"certs"}, args...)...)
			if err == nil || !strings.HasPrefix(err.Error(), "certs: --") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v (%s), want an error with %q", err, out, tt.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("--out %s was made", dir)
			}
			if after := snapshot(t, base) + snapshot(t, ca); after != before {
				t.Errorf("files changed:\n%s\nwere:\n%s", after, before)
			}
		})
	}
}

// TestCertsNeverOverwrites: a second run into the same directory is
// refused, naming the files there, and changes nothing; with --force it
// writes new files, and a key whose old file others could read is
// created anew with mode 0600.
func TestCertsNeverOverwrites(t *testing.T) {
	dir, _ := makeCerts(t, "--hosts", "localhost", "--client", "stages")
	if err := os.Chmod(filepath.Join(dir, "stages-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	_, err := runCLI(t, "certs", "--out", dir, "--hosts", "localhost", "--client", "stages,leaf")
	want := "certs: --out " + dir + ": ca.pem, ca-key.pem, server.pem, server-key.pem, stages.pem, stages-key.pem already there: --force overwrites (nothing was written)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("files changed:\n%s\nwere:\n%s", after, before)
	}
	if out, err := runCLI(t, "certs", "--out", dir, "--hosts", "localhost", "--client", "stages,leaf", "--force"); err != nil {
		t.Fatalf("--force: %v\n%s", err, out)
	}
	after := snapshot(t, dir)
	for _, line := range strings.Split(before, "\n") {
		if line != "" && strings.Contains(after, line) {
			t.Errorf("--force kept %s", strings.Fields(line)[0])
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "stages-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("stages-key.pem after --force: %v, %v; want mode 0600", st.Mode(), err)
	}
}

// TestCertsAllOrNothing: a file that --force cannot replace (here
// server.pem is a directory) fails the run before anything is written,
// naming it: no CA is left without its certificates, and the files of an
// earlier run, the old CA's key among them, are all still there. --force
// had removed the old CA's files before it found server.pem in the way.
func TestCertsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keep"), []byte("x"), 0o644)
	if err := os.MkdirAll(filepath.Join(dir, "server.pem", "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old string }{{"new", ""}, {"over an earlier run", "ca.pem"}} {
		t.Run(c.name, func(t *testing.T) {
			if c.old != "" {
				if out, err := runCLI(t, "certs", "--out", dir, "--server", "hub", "--hosts", "localhost"); err != nil {
					t.Fatalf("the earlier run: %v\n%s", err, out)
				}
			}
			before := snapshot(t, dir)
			_, err := runCLI(t, "certs", "--out", dir, "--hosts", "localhost", "--force")
			if want := "certs: --out " + dir + ": server.pem is there and not a file: nothing was written"; err == nil || err.Error() != want {
				t.Errorf("got %v, want %s", err, want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("left:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

// TestCertsForceReplacesLinks: --force replaces a file that is a symlink
// with a new file, and leaves what it pointed to alone.
func TestCertsForceReplacesLinks(t *testing.T) {
	dir, _ := makeCerts(t, "--hosts", "localhost")
	elsewhere := filepath.Join(t.TempDir(), "precious")
	writeFile(t, elsewhere, []byte("not a key"), 0o644)
	key := filepath.Join(dir, "server-key.pem")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, key); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "certs", "--out", dir, "--hosts", "localhost", "--force"); err != nil {
		t.Fatalf("--force: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(elsewhere); err != nil || string(b) != "not a key" {
		t.Errorf("the symlink's target: %q, %v", b, err)
	}
	if st, err := os.Lstat(key); err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Errorf("server-key.pem: %v, %v; want a file of mode 0600", st.Mode(), err)
	}
	if s := snapshot(t, dir); strings.Contains(s, ".new-") {
		t.Errorf("temporary files left:\n%s", s)
	}
}

// TestCertsKeepsTheGivenCA: a --client or --server name whose file is the
// given CA's (--ca-cert, --ca-key, here root.pem and root-key.pem in
// --out) is refused, --force or not: the CA's key is never overwritten
// by a client's.
func TestCertsKeepsTheGivenCA(t *testing.T) {
	first, _ := makeCerts(t, "--hosts", "localhost")
	dir := t.TempDir()
	caCert, caKey := filepath.Join(dir, "root.pem"), filepath.Join(dir, "root-key.pem")
	copyFile(t, filepath.Join(first, "ca.pem"), caCert, 0o644)
	copyFile(t, filepath.Join(first, "ca-key.pem"), caKey, 0o600)
	before := snapshot(t, dir)
	for _, args := range [][]string{{"--client", "root"}, {"--client", "root", "--force"}, {"--hosts", "localhost", "--server", "root", "--force"}} {
		_, err := runCLI(t, append([]string{"certs", "--out", dir, "--ca-cert", caCert, "--ca-key", caKey}, args...)...)
		if want := "certs: --server and --client: root.pem is the CA's file (--ca-cert " + caCert + ")"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%v: got %v, want %s", args, err, want)
		}
		if after := snapshot(t, dir); after != before {
			t.Fatalf("%v changed the CA's files:\n%s\nwere:\n%s", args, after, before)
		}
	}
}

// TestCertsUnwritableOut: a directory certs may not write to is refused
// with the error of the first file, and nothing is left in it.
func TestCertsUnwritableOut(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to any directory: run the tests as another user to check the refusal")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	_, err := runCLI(t, "certs", "--out", dir, "--hosts", "localhost")
	if err == nil || !strings.Contains(err.Error(), "certs: --out "+dir+": open "+filepath.Join(dir, "ca.pem")+": permission denied") {
		t.Errorf("got %v, want permission denied", err)
	}
	if s := snapshot(t, dir); s != "" {
		t.Errorf("left:\n%s", s)
	}
}

// TestCertsHelp: --help shows every flag with its variable, and the
// command is in the usage.
func TestCertsHelp(t *testing.T) {
	out, err := runCLI(t, "certs", "--help")
	if err == nil || err.Error() != "flag: help requested" {
		t.Errorf("certs --help: %v", err)
	}
	for _, f := range []string{"out", "hosts", "server", "client", "ca-cert", "ca-key", "valid", "ca-valid", "force"} {
		if !strings.Contains(out, "  --"+f+"  ["+envName("certs", f)+"]") {
			t.Errorf("--help lacks --%s:\n%s", f, out)
		}
	}
	var usage bytes.Buffer
	if err := dispatch(context.Background(), &environment{stdout: &usage, stderr: &usage}, []string{"--help"}); err != nil || !strings.Contains(usage.String(), "  certs ") {
		t.Errorf("emostream --help: %v\n%s", err, usage.String())
	}
}

// FuzzCertHosts: whatever --hosts holds, parsing never panics, and every
// name it accepts goes into a certificate that verifies for it.
func FuzzCertHosts(f *testing.F) {
	for _, s := range []string{"", ",", "localhost,127.0.0.1", "::1,::ffff:10.0.0.1", "*.example.com", "a.*.b", "fe80::1%eth0",
		"xn--bcher-kva.example", "UPPER.example", strings.Repeat("a", 63) + ".b", strings.Repeat("a.", 126) + "a", "a\x00b", "é.example"} {
		f.Add(s)
	}
	p := &certPlan{now: time.Now(), valid: time.Hour, caValid: time.Hour} // the CA alone
	if _, err := p.sign(); err != nil {
		f.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	f.Fuzz(func(t *testing.T, list string) {
		hosts, ips, err := parseCertHosts(list)
		if err != nil || len(hosts)+len(ips) == 0 {
			return
		}
		leaf, err := p.ca.Sign(pki.Request{CommonName: "fuzz", Now: p.now, Valid: time.Hour, DNSNames: hosts, IPs: ips, Server: true})
		if err != nil {
			t.Fatalf("%q: accepted, but: %v", list, err)
		}
		for _, h := range append(hosts, (&certPlan{ips: ips}).serverNames()...) {
			h = strings.Replace(h, "*", "x", 1)
			if _, err := leaf.Cert.Verify(x509.VerifyOptions{DNSName: h, Roots: roots}); err != nil {
				t.Fatalf("%q: the certificate does not verify for %s: %v", list, h, err)
			}
		}
	})
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, b, mode)
}
