package capacity

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// docsFile is the capacity plan's page; its tables are this package's
// output, between markers.
const docsFile = "../docs/capacity.md"

// between returns the text of doc between <!-- name --> and
// <!-- /name -->, trimmed.
func between(t *testing.T, doc, name string) string {
	t.Helper()
	open, closing := "<!-- "+name+" -->", "<!-- /"+name+" -->"
	i, j := strings.Index(doc, open), strings.Index(doc, closing)
	if i < 0 || j < i {
		t.Fatalf("%s: no %s … %s", docsFile, open, closing)
	}
	return strings.TrimSpace(doc[i+len(open) : j])
}

// replaceBetween puts text between doc's markers of name.
func replaceBetween(doc, name, text string) string {
	open, closing := "<!-- "+name+" -->", "<!-- /"+name+" -->"
	i, j := strings.Index(doc, open), strings.Index(doc, closing)
	return doc[:i+len(open)] + "\n" + text + "\n" + doc[j:]
}

// TestDocsEqualTheModel: docs/capacity.md shows exactly what "emostream
// plan" prints for the worked case and its steps, and what "emostream plan
// --check" prints for the runs whose measured lines it quotes. Regenerate
// with EMOSTREAM_WRITE_DOCS=1 go test ./capacity -run TestDocs.
func TestDocsEqualTheModel(t *testing.T) {
	b, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var plan, steps bytes.Buffer
	p, err := NewPlan(Load{Viewers: 50e6, Reactions: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	WritePlan(&plan, p)
	s, err := Steps(Load{Viewers: 50e3, Reactions: 1e3}, 4)
	if err != nil {
		t.Fatal(err)
	}
	WriteSteps(&steps, s)
	want := map[string]string{"plan": plan.String(), "steps": steps.String()}
	for _, name := range []string{"check-calibrate", "check-validate"} {
		run := strings.TrimSuffix(strings.TrimPrefix(between(t, doc, name+"-run"), "```text"), "```")
		small, measured, err := ReadCheck(strings.NewReader(run))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out bytes.Buffer
		WriteCheck(&out, small, measured)
		want[name] = out.String()
	}
	for name, w := range want {
		if got := between(t, doc, name); got != strings.TrimSpace(w) {
			if os.Getenv("EMOSTREAM_WRITE_DOCS") != "" {
				doc = replaceBetween(doc, name, strings.TrimSpace(w))
				continue
			}
			t.Errorf("%s: the %q block differs from the model's output (EMOSTREAM_WRITE_DOCS=1 rewrites it):\n%s", docsFile, name, w)
		}
	}
	if os.Getenv("EMOSTREAM_WRITE_DOCS") != "" {
		if err := os.WriteFile(docsFile, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
