package docscheck

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// A recipe is the runnable code blocks of one name in a document, in
// document order: a fence "```sh runnable=NAME [needs=TOOL,…]". Blocks of
// one name form one script (a later section goes on where an earlier one
// stopped).
type recipe struct {
	name   string
	needs  []string
	script strings.Builder
	lines  []int // first line of each block in the document
}

var fence = regexp.MustCompile("^```sh runnable=([a-z0-9-]+)((?: needs=[a-z0-9,-]+)?)\\s*$")

// recipes reads the runnable blocks of a Markdown file.
func recipes(t *testing.T, path string) []*recipe {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*recipe
	var cur *recipe
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch m := fence.FindStringSubmatch(line); {
		case m != nil:
			i := slices.IndexFunc(out, func(r *recipe) bool { return r.name == m[1] })
			if i < 0 {
				out, i = append(out, &recipe{name: m[1]}), len(out)
			}
			cur = out[i]
			cur.lines = append(cur.lines, n)
			if m[2] != "" {
				cur.needs = append(cur.needs, strings.Split(strings.TrimPrefix(m[2], " needs="), ",")...)
			}
		case cur != nil && strings.HasPrefix(line, "```"):
			cur = nil
		case cur != nil:
			cur.script.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The recipes docs/operations.md must have: one per multi-step procedure.
var operationsRecipes = []string{
	"running", "hub-cluster", "edge", "nats-tls", "kafka-secure", "backup",
}

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryErr  error
)

// emostreamDir is a directory holding the built emostream, for PATH.
func emostreamDir(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		var bin string
		bin, _, binaryErr = testenv.BuildBinary("docscheck") // removed with the OS's temp dir
		binaryDir = filepath.Dir(bin)
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryDir
}

// TestOperationsRecipes runs every runnable recipe of docs/operations.md
// with bash, in a fresh directory holding copies of nats.conf and deploy/
// (and scripts/), the built emostream first on PATH. The documented
// substitution: every 127.0.0.1:PORT of the recipe and of the copied files
// becomes one free loopback port (the same in every place), and every
// /tmp/NAME a directory of the test. A recipe passes when its script exits
// 0 (set -e -o pipefail: each command must succeed); whatever it left
// running is then stopped (its process group).
func TestOperationsRecipes(t *testing.T) {
	all := recipes(t, filepath.Join(root, "docs", "operations.md"))
	for _, name := range operationsRecipes {
		if !slices.ContainsFunc(all, func(r *recipe) bool { return r.name == name }) {
			t.Errorf("docs/operations.md has no runnable recipe %q", name)
		}
	}
	for _, r := range all {
		t.Run(r.name, func(t *testing.T) {
			if !slices.Contains(r.needs, "kafka") {
				// each on its own ports and in its own directory; a real Kafka
				// cluster picks free ports of its own, so it runs first, alone
				t.Parallel()
			}
			requireTools(t, r.needs)
			runRecipe(t, r)
		})
	}
}

// requireTools skips (fails in CI) a recipe whose tools are missing; a
// real Kafka cluster takes 20–40 s to start, so not with -short.
func requireTools(t *testing.T, needs []string) {
	t.Helper()
	for _, n := range append([]string{"curl", "openssl"}, needs...) { // every recipe's
		switch n {
		case "kafka":
			if testing.Short() {
				t.Skip("a real Kafka cluster: not with -short")
			}
			testenv.RequireRealKafka(t)
		case "nats":
			testenv.RequireTool(t, "nats", "go install github.com/nats-io/natscli/nats@v0.5.0")
		default:
			testenv.RequireTool(t, n, "apt-get install -y "+n)
		}
	}
}

var (
	loopbackPort = regexp.MustCompile(`127\.0\.0\.1:(\d{4,5})\b`)
	tmpPath      = regexp.MustCompile(`/tmp/([A-Za-z0-9_-]+)`)
)

// workspace is one run's directory and its port map.
type workspace struct {
	dir   string
	ports map[string]string
}

// rewrite applies the documented substitution to text.
func (w *workspace) rewrite(text string) string {
	text = loopbackPort.ReplaceAllStringFunc(text, func(a string) string {
		p := strings.TrimPrefix(a, "127.0.0.1:")
		if w.ports[p] == "" {
			_, w.ports[p], _ = net.SplitHostPort(testenv.FreeAddr())
		}
		return "127.0.0.1:" + w.ports[p]
	})
	return tmpPath.ReplaceAllString(text, filepath.Join(w.dir, "tmp-$1"))
}

// newWorkspace copies nats.conf and deploy/'s files into a temp dir,
// rewritten, and links scripts/.
func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	w := &workspace{dir: t.TempDir(), ports: map[string]string{}}
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".conf" {
			return err
		}
		return w.copy(path)
	})
	if err == nil {
		err = w.copy(filepath.Join(root, "nats.conf"))
	}
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Abs(filepath.Join(root, "scripts"))
	if err := os.Symlink(scripts, filepath.Join(w.dir, "scripts")); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *workspace) copy(path string) error {
	rel, _ := filepath.Rel(root, path)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dst := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.WriteFile(dst, []byte(w.rewrite(string(b))), 0o600)
}

// recipeTimeout bounds one recipe's run: 3 minutes, 5 with a real Kafka
// cluster to start; $EMOSTREAM_RECIPE_TIMEOUT (a Go duration) overrides it.
func recipeTimeout(r *recipe) time.Duration {
	if d, err := time.ParseDuration(os.Getenv("EMOSTREAM_RECIPE_TIMEOUT")); err == nil {
		return d
	}
	if slices.Contains(r.needs, "kafka") {
		return 5 * time.Minute
	}
	return 3 * time.Minute
}

// comment is a shell comment (after a blank, to the end of the line).
var comment = regexp.MustCompile(`(?m)(^|\s)#.*$`)

// number is a bare number of 4 or 5 digits, which may be a port.
var number = regexp.MustCompile(`(^|[^0-9A-Za-z_.:/-])(\d{4,5})\b`)

// portProblems says where a recipe names one of its ports other than as
// 127.0.0.1:PORT (in a loop, after another host): the substitution would
// miss it, and the recipe would reach whatever serves the fixed port.
func portProblems(w *workspace, script string) []string {
	var out []string
	script = comment.ReplaceAllString(script, "")
	for _, m := range number.FindAllStringSubmatch(script, -1) {
		if w.ports[m[2]] != "" {
			out = append(out, "the recipe names port "+m[2]+" without 127.0.0.1: (write each address out in full)")
		}
	}
	for _, host := range []string{"localhost:", "0.0.0.0:", "[::1]:"} {
		if strings.Contains(script, host) {
			out = append(out, "the recipe names an address "+host+"…: write 127.0.0.1:PORT, which the test substitutes")
		}
	}
	return out
}

func runRecipe(t *testing.T, r *recipe) {
	w := newWorkspace(t)
	script := w.rewrite(r.script.String())
	for _, p := range portProblems(w, r.script.String()) {
		t.Error(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), recipeTimeout(r))
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-x", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "PATH="+emostreamDir(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// a file, not a pipe: what the recipe leaves running keeps its output open
	out, err := os.Create(filepath.Join(w.dir, "recipe.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	stopGroup(t, cmd.Process.Pid)
	log, _ := os.ReadFile(out.Name())
	if err == nil && !t.Failed() && testing.Verbose() {
		t.Logf("recipe %s: output:\n%s", r.name, log)
	}
	if err != nil || t.Failed() {
		t.Errorf("recipe %s (docs/operations.md lines %v): %v\nscript:\n%s\noutput:\n%s", r.name, r.lines, err, script, log)
	}
}

// stopGroup ends what a recipe left running: SIGTERM to its process
// group, SIGKILL after 10 s.
func stopGroup(t *testing.T, pgid int) {
	if err := syscall.Kill(-pgid, syscall.SIGTERM); errors.Is(err, syscall.ESRCH) {
		return
	}
	gone := func() bool { return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) }
	if !testenv.Until(10*time.Second, gone) {
		t.Errorf("recipe's processes still running 10 s after SIGTERM: killed")
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		testenv.Until(5*time.Second, gone)
	}
}

// TestPortProblems: a port named other than as 127.0.0.1:PORT fails the
// recipe; comments and numbers that are no port of it do not.
func TestPortProblems(t *testing.T) {
	for _, c := range []struct {
		script string
		fails  bool
	}{
		{"ready http://127.0.0.1:8222/healthz\n", false},
		{"for m in 8222 8232; do ready http://127.0.0.1:$m/healthz; done\n", true},
		{"emostream edge --listen 0.0.0.0:9230\n", true},
		{"emostream edge --listen 127.0.0.1:9230   # elsewhere: 0.0.0.0:9230\n", false},
		{"emostream send --count 3000 # 8222\n", false},
	} {
		w := &workspace{dir: t.TempDir(), ports: map[string]string{}}
		w.rewrite("127.0.0.1:8222 127.0.0.1:8232 " + c.script)
		if got := portProblems(w, c.script); (len(got) > 0) != c.fails {
			t.Errorf("%q: %q, want failing %v", c.script, got, c.fails)
		}
	}
}
