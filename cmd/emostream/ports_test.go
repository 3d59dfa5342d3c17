package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The guard against default ports (issue 21): "go test ./..." must pass
// while "emostream up" runs on its defaults, so no test of this package
// may listen on a port that a command listens on or dials by default.
// TestMain replaces listenTCP, which every command binds and checks its
// addresses through, with one that refuses those ports; a test that
// forgets a --listen, --ops or --nats 127.0.0.1:0 then fails whether or
// not "up" runs, and the run ends with the refused addresses and where.

// defaultPort finds the fixed loopback ports in a --help's defaults.
var defaultPort = regexp.MustCompile(`\(default (?:[a-z+-]+://)?(?:127\.0\.0\.1|localhost)?:([1-9][0-9]*)|,(?:127\.0\.0\.1)?:([1-9][0-9]*)`)

var guard struct {
	mu      sync.Mutex
	ports   map[string]bool
	refused []string
}

// defaultPorts runs every command's --help (but the hidden ones') and returns the ports its
// flags' defaults name.
func defaultPorts() map[string]bool {
	ports := map[string]bool{}
	for _, c := range commands {
		if c.hidden { // bench-viewers: a child of bench, on the ports bench gives it
			continue
		}
		var out bytes.Buffer
		env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
		_ = c.run(context.Background(), env, []string{"--help"})
		for _, m := range defaultPort.FindAllStringSubmatch(out.String(), -1) {
			ports[m[1]+m[2]] = true
		}
	}
	delete(ports, "")
	return ports
}

// guardDefaultPorts makes listenTCP refuse the default ports.
func guardDefaultPorts() {
	guard.ports = defaultPorts()
	listen := listenTCP
	listenTCP = func(addr string) (net.Listener, error) {
		if _, port, err := net.SplitHostPort(addr); err == nil && guard.ports[port] {
			guard.mu.Lock()
			guard.refused = append(guard.refused, fmt.Sprintf("%s, from:\n%s", addr, debug.Stack()))
			guard.mu.Unlock()
			return nil, fmt.Errorf("test guard: %s is a default port of emostream: a test listens on 127.0.0.1:0 (give the flag)", addr)
		}
		return listen(addr)
	}
}

// reportDefaultPorts prints the addresses the guard refused; false if any.
func reportDefaultPorts() bool {
	guard.mu.Lock()
	defer guard.mu.Unlock()
	for _, r := range guard.refused {
		fmt.Fprintf(os.Stderr, "a test listened on a default port of emostream: %s\n", r)
	}
	return len(guard.refused) == 0
}

// TestDefaultPortsGuarded: the guard knows every default port of up and
// of the stages run alone, and refuses them.
func TestDefaultPortsGuarded(t *testing.T) {
	for _, p := range []string{"8080", "9100", "9092", "4222", "7422", "8222", "9222", "9223", "9102", "9103", "9104", "8090"} {
		if !guard.ports[p] {
			t.Errorf("port %s is not guarded; guarded: %v", p, guard.ports)
		}
	}
	if guard.ports["0"] || len(guard.ports) > 20 {
		t.Errorf("guarded ports: %v", guard.ports)
	}
	ln, err := listenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	guard.mu.Lock()
	before := slices.Clone(guard.refused)
	guard.mu.Unlock()
	if _, err := listenTCP("127.0.0.1:4222"); err == nil || !strings.Contains(err.Error(), "test guard") {
		t.Errorf("listening on 127.0.0.1:4222: %v, want the guard's refusal", err)
	}
	guard.mu.Lock()
	guard.refused = before // this test's own refusal is no finding
	guard.mu.Unlock()
}
