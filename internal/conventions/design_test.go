package conventions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// conventions returns the "# Conventions" part of docs/design.md.
func conventions(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n# Conventions\n")
	if !ok {
		t.Fatal(`docs/design.md has no "# Conventions"`)
	}
	return after
}

// afterHeading returns the text of doc after the paragraph that starts
// with heading ("**Import graph.**").
func afterHeading(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading)
	if i < 0 {
		t.Fatalf("docs/design.md Conventions has no %s paragraph", heading)
	}
	return doc[i+1:]
}
