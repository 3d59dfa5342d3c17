package conventions

import (
	"bufio"
	"bytes"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestImportGraph: the import graph of docs/design.md "Conventions" is the
// module's: every package that imports one of the module's has its line,
// and each line names exactly the module packages it imports (tests left
// out, as go list -f '{{.Imports}}' gives them).
func TestImportGraph(t *testing.T) {
	doc := parseGraph(t, codeBlock(t, afterHeading(t, conventions(t), "**Import graph.**")))
	code := moduleImports(t)
	for _, pkg := range slices.Sorted(maps.Keys(code)) {
		want, listed := doc[pkg]
		if !listed {
			if len(code[pkg]) > 0 {
				t.Errorf("%s imports %v; the graph has no line for it", pkg, slices.Sorted(maps.Keys(code[pkg])))
			}
			continue
		}
		for _, d := range slices.Sorted(maps.Keys(code[pkg])) {
			if !want[d] {
				t.Errorf("%s imports %s; the graph does not say so", pkg, d)
			}
		}
		for _, d := range slices.Sorted(maps.Keys(want)) {
			if !code[pkg][d] {
				t.Errorf("the graph says %s imports %s; it does not", pkg, d)
			}
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(doc)) {
		if _, ok := code[pkg]; !ok {
			t.Errorf("the graph has a line for %s, which is no package of the module", pkg)
		}
	}
}

// codeBlock returns the first fenced code block of text.
func codeBlock(t *testing.T, text string) string {
	t.Helper()
	_, after, ok := strings.Cut(text, "\n```\n")
	block, _, closed := strings.Cut(after, "\n```")
	if !ok || !closed {
		t.Fatal("no code block after the import graph's paragraph")
	}
	return block
}

// remark is a parenthesised remark of a graph line.
var remark = regexp.MustCompile(`\([^)]*\)`)

// parseGraph reads a graph block: a line at the left margin with "──►"
// starts an entry, its packages before the arrow and their imports after
// it, comma-separated; indented lines go on with the imports; other lines
// (headings, rules) end the entry. Remarks in parentheses are left out.
func parseGraph(t *testing.T, block string) map[string]map[string]bool {
	t.Helper()
	graph := map[string]map[string]bool{}
	var from []string
	for _, line := range strings.Split(block, "\n") {
		rhs := ""
		switch l, r, arrow := strings.Cut(line, "──►"); {
		case arrow && !strings.HasPrefix(line, " "):
			from, rhs = list(l), r
			for _, p := range from {
				if graph[p] != nil {
					t.Errorf("the graph has two lines for %s", p)
				}
				graph[p] = map[string]bool{}
			}
		case strings.HasPrefix(line, " ") && from != nil:
			rhs = line
		default:
			from = nil
		}
		for _, p := range from {
			for _, d := range list(remark.ReplaceAllString(rhs, "")) {
				graph[p][d] = true
			}
		}
	}
	if len(graph) == 0 {
		t.Fatal("the graph block has no line")
	}
	return graph
}

// list splits a comma-separated list, dropping blanks.
func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// moduleImports runs go list over the module and returns each package's
// imports inside the module, as paths relative to it; test files left out.
func moduleImports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}`, "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	imports := map[string]map[string]bool{}
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		pkg, deps, _ := strings.Cut(sc.Text(), "|")
		name := strings.TrimPrefix(pkg, module)
		imports[name] = map[string]bool{}
		for _, d := range strings.Fields(deps) {
			if rel, ok := strings.CutPrefix(d, module); ok {
				imports[name][rel] = true
			}
		}
	}
	return imports
}
