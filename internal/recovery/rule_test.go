package recovery_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The rule in the source: the serving code of the stages (everything but
// tests and the load tools) builds its handlers only through the helpers
// that recover. A new surface that goes around them fails here, with the
// helper to use.
func TestEveryHandlerRecovers(t *testing.T) {
	rules := []struct {
		re      *regexp.Regexp
		allowed func(path, line string) bool
		use     string
	}{
		{regexp.MustCompile(`fiber\.New\(`), func(p, _ string) bool { return p == "ingest/apps.go" },
			"ingest's newFiber (ingest/apps.go), which installs recovery"},
		{regexp.MustCompile(`SetBodyStreamWriter\(`), func(string, string) bool { return false },
			"ingest's Server.stream: fasthttp's stream goroutine is outside every middleware"},
		{regexp.MustCompile(`\.(Queue)?Subscribe\(`), func(_, l string) bool { return strings.Contains(l, "recovery.Func(") },
			"recovery.Func around the message handler"},
		{regexp.MustCompile(`http\.Server\{`), func(p, l string) bool {
			return p == "cmd/emostream/ops.go" || strings.Contains(l, "recovery.HTTP(")
		},
			"cmd/emostream's serveHTTP with recovery.HTTP"},
	}
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != root || skipDir(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, r := range rules {
				if r.re.MatchString(line) && !r.allowed(filepath.ToSlash(rel), line) {
					t.Errorf("%s:%d: %s: use %s", rel, i+1, strings.TrimSpace(line), r.use)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// skipDir: the load and fault tools, whose servers are not a stage's, and
// test helpers.
func skipDir(rel string) bool {
	switch filepath.ToSlash(rel) {
	case "bench", "loadgen", "chaos", "internal/testenv", "fanout/fanouttest", "registry/registrytest":
		return true
	}
	return false
}
