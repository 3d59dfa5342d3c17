package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
)

// runLogged runs args as emostream does, in the background, everything it
// prints (stdout and stderr, the log) in the returned buffer; stop ends it
// and returns its error.
func runLogged(t *testing.T, args ...string) (out *testenv.LogBuffer, stop func() error) {
	t.Helper()
	out = &testenv.LogBuffer{}
	env := &environment{stdin: strings.NewReader(""), stdout: out, stderr: out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, env, args) }()
	var once bool
	stop = func() error {
		if once {
			return nil
		}
		once = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return out, stop
}

// waitMatch waits for re in out and returns its first group.
func waitMatch(t *testing.T, out *testenv.LogBuffer, what, re string) string {
	t.Helper()
	r := regexp.MustCompile(re)
	testenv.WaitFor(t, 20*time.Second, what, func() bool { return r.MatchString(out.String()) })
	return r.FindStringSubmatch(out.String())[1]
}

// TestLeafNeverLogsAPassword: leaf without -c, at --log-level debug,
// prints and logs neither the edge password nor the password of leaves
// of this leaf: not at start, not when a client is refused or admitted,
// not when a second leaf fails on a taken address. The passwords are in
// --nats-auth-dir (mode 0600), and the lines it prints to use them work:
// an edge and a leaf of this leaf connect with them (issue 21: it printed
// nats://edge:PASSWORD@… and nats-leaf://leaf:PASSWORD@…).
func TestLeafNeverLogsAPassword(t *testing.T) {
	hubOut, _ := runLogged(t, "hub", "--data-dir", t.TempDir(), "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0",
		"--monitor", "", "--leaf-password", "hubleafpass0123456789")
	hubLeaf := waitMatch(t, hubOut, "the hub started", `leaf clusters connect to nats-leaf://(\S+)`)
	auth := filepath.Join(t.TempDir(), "leaf-auth")
	args := []string{"leaf", "--remote", "nats-leaf://leaf:hubleafpass0123456789@" + hubLeaf, "--nats-auth-dir", auth,
		"--ws", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0", "--monitor", "127.0.0.1:0", "--log-level", "debug"}
	out, stop := runLogged(t, args...)
	edgeLine := waitMatch(t, out, "the leaf started", `leaf: edges connect to (.*)\n`)
	passwords := map[string]string{}
	for _, name := range []string{edgePasswordFile, leafPasswordFile} {
		f := filepath.Join(auth, name)
		b, err := os.ReadFile(f)
		if err != nil || len(b) < 16 {
			t.Fatalf("%s: %q, %v", f, b, err)
		}
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
		passwords[name] = strings.TrimSpace(string(b))
	}
	passwords["the hub's leaf password (--remote)"] = "hubleafpass0123456789"
	// The printed edge command's flags reach the leaf as user edge.
	edgeArgs := strings.Fields(edgeLine[strings.Index(edgeLine, "emostream edge ")+len("emostream edge "):])
	want := []string{"--nats", "", "--nats-user", "edge", "--nats-password-file", filepath.Join(auth, edgePasswordFile), "--js-domain", "hub"}
	if len(edgeArgs) != len(want) {
		t.Fatalf("edge line %q: want emostream edge %q", edgeLine, want)
	}
	nc, err := nats.Connect(edgeArgs[1], nats.UserInfo(edgeArgs[3], passwords[edgePasswordFile]))
	if err != nil {
		t.Fatalf("the printed edge credentials: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(edgeArgs[1], nats.UserInfo("edge", passwords[edgePasswordFile]+"x"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("a wrong edge password was admitted")
	}
	checkSubLeaf(t, out, passwords[leafPasswordFile])
	var second bytes.Buffer
	env2 := &environment{stdin: strings.NewReader(""), stdout: &second, stderr: &second, getenv: func(string) string { return "" }}
	ws := waitMatch(t, out, "the WebSocket address", `viewers connect to ws://(\S+)`)
	err = dispatch(context.Background(), env2, append(args[:len(args):len(args)], "--ws", ws))
	if err == nil {
		t.Fatal("a second leaf on the same --ws started")
	}
	fmt.Fprintf(&second, "%v\n", err)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkPasswordsHidden(t, "leaf", passwords, out.String(), second.String())
	if !strings.Contains(out.String(), "the password in "+filepath.Join(auth, edgePasswordFile)) {
		t.Errorf("the output does not say where the edge password is:\n%s", out.String())
	}
}

// checkSubLeaf starts a leaf of the leaf whose output is out with the
// EMOSTREAM_LEAF_REMOTE line it printed, $(cat file) read as the shell
// would, and waits until the parent's /leafz shows it.
func checkSubLeaf(t *testing.T, out *testenv.LogBuffer, password string) {
	t.Helper()
	line := waitMatch(t, out, "the sub-leaf line", `EMOSTREAM_LEAF_REMOTE=(.+?) emostream leaf`)
	m := regexp.MustCompile(`^(nats-leaf://leaf:)\$\(cat (\S+)\)(@\S+)$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("EMOSTREAM_LEAF_REMOTE=%s: want nats-leaf://leaf:$(cat FILE)@host:port", line)
	}
	b, err := os.ReadFile(m[2])
	if err != nil || strings.TrimSpace(string(b)) != password {
		t.Fatalf("%s: %q, %v", m[2], b, err)
	}
	sub, _ := runLogged(t, "leaf", "--name", "sub", "--remote", m[1]+strings.TrimSpace(string(b))+m[3],
		"--nats-auth-dir", t.TempDir(), "--ws", "127.0.0.1:0")
	waitMatch(t, sub, "the sub-leaf started", `viewers connect to (\S+)`)
	mon := waitMatch(t, out, "monitoring", `leaf: monitoring on (\S+)/varz`)
	testenv.WaitFor(t, 20*time.Second, "the sub-leaf connected", func() bool {
		res, err := http.Get(mon + "/leafz")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var z struct{ Leafnodes int }
		return json.NewDecoder(res.Body).Decode(&z) == nil && z.Leafnodes == 2
	})
	if strings.Contains(sub.String(), password) {
		t.Errorf("the parent's leaf password is in the sub-leaf's output:\n%s", sub.String())
	}
}

// TestNoPasswordInConnectErrors: a password given in a URL (which the
// docs advise against, but works) shows in no log line or error of a stage
// that cannot reach NATS, nor of a leaf or edge whose URL does not parse:
// they say "xxxxx" (issue 21: the bridge and processor logged "waiting for
// NATS at nats://bridge:PASSWORD@…", a leaf quoted a bad --remote whole).
func TestNoPasswordInConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	const secret = "S3CRETpassw0rd"
	for _, stage := range []string{"bridge", "processor"} {
		out, stop := runLogged(t, stage, "--nats", "nats://"+stage+":"+secret+"@"+closed, "--kafka-brokers", closed, "--ops", "")
		testenv.WaitFor(t, 20*time.Second, stage+" waiting for NATS", func() bool { return strings.Contains(out.String(), "waiting for NATS") })
		_ = stop()
		if strings.Contains(out.String(), secret) || !strings.Contains(out.String(), stage+":xxxxx@") {
			t.Errorf("%s's output shows the password or no redacted URL:\n%s", stage, out.String())
		}
	}
	for _, args := range [][]string{
		{"leaf", "--remote", "nats-leaf://leaf:" + secret + "%zz@" + closed, "--nats-auth-dir", t.TempDir(), "--ws", "127.0.0.1:0"},
		{"edge", "--nats", "nats://edge:" + secret + "%zz@" + closed, "--listen", "127.0.0.1:0", "--ops", ""},
	} {
		var out bytes.Buffer
		env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
		err := dispatch(context.Background(), env, args)
		if err == nil {
			t.Fatalf("%v started", args)
		}
		if text := out.String() + err.Error(); strings.Contains(text, secret) || !strings.Contains(text, "xxxxx@") {
			t.Errorf("%s shows the password or no redacted URL:\n%s", args[0], text)
		}
	}
}

// TestSecretCreatedOnce: processes that start at once on one directory
// (leaves in one script, a hub and its restart) all get the same secret,
// in a file of mode 0600: none replaces another's, none reads a
// half-written one.
func TestSecretCreatedOnce(t *testing.T) {
	for range 20 {
		file := filepath.Join(t.TempDir(), "edge.password")
		const n = 8
		got := make(chan string, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				s, err := readOrCreateSecret(file)
				if err != nil {
					s = err.Error()
				}
				got <- s
			}()
		}
		close(start)
		first := <-got
		for range n - 1 {
			if s := <-got; s != first {
				t.Fatalf("two secrets for one file: %q and %q", first, s)
			}
		}
		if b, err := os.ReadFile(file); err != nil || strings.TrimSpace(string(b)) != first {
			t.Fatalf("%s holds %q, %v; they got %q", file, b, err, first)
		}
		if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v; want mode 0600", file, st.Mode().Perm(), err)
		}
	}
}

// A password file an operator wrote with what a .conf file cannot carry
// is refused with an error naming the file (the hub or leaf used to stop
// with "EdgePassword: want 1-128 of …", naming neither file nor flag).
func TestOddSecretFileNamed(t *testing.T) {
	for _, content := range []string{"pass word", "quote\"d", strings.Repeat("a", 129), "tab\there"} {
		file := filepath.Join(t.TempDir(), "edge.password")
		if err := os.WriteFile(file, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readOrCreateSecret(file); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%q: %v, want an error naming %s", content, err, file)
		}
	}
	file := filepath.Join(t.TempDir(), "ok.password")
	if err := os.WriteFile(file, []byte("Abc.1_~-z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := readOrCreateSecret(file); err != nil || s != "Abc.1_~-z" {
		t.Errorf("a good password: %q, %v", s, err)
	}
}
