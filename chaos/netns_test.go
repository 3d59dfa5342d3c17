//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netnsPrefix starts every namespace and interface these tests make, so
// that leftovers of an earlier, killed run can be found and removed.
const netnsPrefix = "emoha"

// region is a network namespace the test made: the leaf cluster's "region",
// reached from the root namespace (hubs, stages, viewer) over two veth
// pairs: the uplink, which carries the leaves' connections to the hub and
// which a partition cuts, and the viewer link, which stays up.
type region struct {
	t  testing.TB
	ns string
	// uplinkRoot/uplinkPeer and viewRoot/viewPeer are the veth ends (root
	// namespace / region) and their addresses.
	uplinkRoot, uplinkPeer, viewRoot, viewPeer string
	UplinkHub, ViewLeaf                        string // the hub's and the leaves' addresses
	delay                                      string // netem delay of the uplink, "" when the kernel has no netem
}

// ipCmd runs ip (or tc) with args, in namespace ns if not "".
func ipCmd(ns, tool string, args ...string) error {
	if ns != "" {
		args = append([]string{"netns", "exec", ns, tool}, args...)
		tool = "ip"
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeStale deletes the namespaces and interfaces an earlier run left.
func removeStale() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], netnsPrefix) {
			ipCmd("", "ip", "netns", "del", f[0])
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], netnsPrefix) {
			ipCmd("", "ip", "link", "del", strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
}

// newRegion makes the namespace and its links, or skips the test with the
// reason (fails it when CI=true). delay is the uplink's one-way netem delay
// (e.g. "40ms"); a kernel without netem runs without it, and says so.
func newRegion(t testing.TB, delay string) *region {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "no ip command (apt-get install -y iproute2)")
	}
	removeStale()
	id := os.Getpid() % 250
	r := &region{t: t, ns: fmt.Sprintf("%s%d", netnsPrefix, os.Getpid()),
		uplinkRoot: fmt.Sprintf("%s%du0", netnsPrefix, id), uplinkPeer: fmt.Sprintf("%s%du1", netnsPrefix, id),
		viewRoot: fmt.Sprintf("%s%dv0", netnsPrefix, id), viewPeer: fmt.Sprintf("%s%dv1", netnsPrefix, id),
		UplinkHub: fmt.Sprintf("10.211.%d.1", id), ViewLeaf: fmt.Sprintf("10.212.%d.2", id)}
	if err := ipCmd("", "ip", "netns", "add", r.ns); err != nil {
		skipOrFail(t, "cannot make a network namespace (needs root): "+err.Error())
	}
	t.Cleanup(func() {
		ipCmd("", "ip", "netns", "del", r.ns) // takes the region's veth ends, so the pairs, along
		ipCmd("", "ip", "link", "del", r.uplinkRoot)
		ipCmd("", "ip", "link", "del", r.viewRoot)
	})
	steps := [][]string{{"", "ip", "link", "set", "lo", "up"}}
	steps[0][0] = r.ns
	for _, l := range []struct{ root, peer, net string }{
		{r.uplinkRoot, r.uplinkPeer, fmt.Sprintf("10.211.%d", id)}, {r.viewRoot, r.viewPeer, fmt.Sprintf("10.212.%d", id)}} {
		steps = append(steps,
			[]string{"", "ip", "link", "add", l.root, "type", "veth", "peer", "name", l.peer},
			[]string{"", "ip", "link", "set", l.peer, "netns", r.ns},
			[]string{"", "ip", "addr", "add", l.net + ".1/24", "dev", l.root},
			[]string{"", "ip", "link", "set", l.root, "up"},
			[]string{r.ns, "ip", "addr", "add", l.net + ".2/24", "dev", l.peer},
			[]string{r.ns, "ip", "link", "set", l.peer, "up"})
	}
	for _, s := range steps {
		if err := ipCmd(s[0], s[1], s[2:]...); err != nil {
			t.Fatal(err)
		}
	}
	if delay != "" {
		if err := ipCmd("", "tc", "qdisc", "add", "dev", r.uplinkRoot, "root", "netem", "delay", delay); err != nil {
			t.Logf("no netem delay between the regions (this kernel lacks CONFIG_NET_SCH_NETEM?): %v", err)
		} else if err := ipCmd(r.ns, "tc", "qdisc", "add", "dev", r.uplinkPeer, "root", "netem", "delay", delay); err != nil {
			t.Fatal(err)
		} else {
			r.delay = delay
		}
	}
	return r
}

// exec is the prefix that runs a command in the region.
func (r *region) exec() []string { return []string{"ip", "netns", "exec", r.ns} }

// cut takes the uplink down: the region's servers lose the hub, its
// viewers keep their leaves.
func (r *region) cut() {
	r.t.Helper()
	if err := ipCmd("", "ip", "link", "set", r.uplinkRoot, "down"); err != nil {
		r.t.Fatal(err)
	}
}

// heal brings the uplink back.
func (r *region) heal() {
	r.t.Helper()
	if err := ipCmd("", "ip", "link", "set", r.uplinkRoot, "up"); err != nil {
		r.t.Fatal(err)
	}
}

func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}
