package docscheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's top directory.
const root = "../.."

// link is a Markdown link target: [text](target).
var link = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

// TestDocsSelfContained: a clone has only the repository, so no document
// or source file may point outside it, and every relative link in a
// Markdown file must name a file of the repository.
func TestDocsSelfContained(t *testing.T) {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".md" && ext != ".go" && ext != ".yml" && ext != ".conf" && ext != ".sh" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(b)
		for _, bad := range []string{"../shared", "shared/DESIGN", "shared/STYLE", "shared/seeds"} {
			if strings.Contains(text, bad) && !strings.HasSuffix(path, "docs_test.go") {
				t.Errorf("%s refers to %q, which a clone does not have", path, bad)
			}
		}
		if ext == ".md" {
			checkLinks(t, path, text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkLinks(t *testing.T, path, text string) {
	t.Helper()
	for _, m := range link.FindAllStringSubmatch(text, -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
			t.Errorf("%s links to %s, which does not exist", path, target)
		}
	}
}
