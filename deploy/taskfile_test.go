package deploy

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// taskfile is the part of Taskfile.yml the fuzz task uses: a command is
// a string, or a loop over items with a command using {{.ITEM}}.
type taskfile struct {
	Tasks map[string]struct {
		Cmds []any `json:"cmds"`
	} `json:"tasks"`
}

// fuzzCommand is a go test -fuzz command of the fuzz task: its package
// and target ({{.ITEM}} in a loop).
var fuzzCommand = regexp.MustCompile(`^go test (\./\S+) -run '\^\$' -fuzz '\^([A-Za-z0-9_{}.]+)\$' -fuzztime \{\{\.FUZZTIME\}\}$`)

// taskFuzzTargets are the package/target pairs task fuzz runs.
func taskFuzzTargets(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../Taskfile.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tf taskfile
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("Taskfile.yml: %v", err)
	}
	var got []string
	for _, c := range tf.Tasks["fuzz"].Cmds {
		cmd, items := "", []any{"{{.ITEM}}"}
		switch c := c.(type) {
		case string:
			cmd = c
		case map[string]any:
			cmd, _ = c["cmd"].(string)
			items, _ = c["for"].([]any)
		}
		m := fuzzCommand.FindStringSubmatch(cmd)
		if m == nil {
			t.Errorf("Taskfile.yml fuzz: %q is not go test ./PKG -run '^$' -fuzz '^TARGET$' -fuzztime {{.FUZZTIME}}", cmd)
			continue
		}
		for _, it := range items {
			got = append(got, filepath.Clean(m[1])+" "+strings.ReplaceAll(m[2], "{{.ITEM}}", it.(string)))
		}
	}
	return got
}

// fuzzTarget is a fuzz target's declaration in a _test.go file.
var fuzzTarget = regexp.MustCompile(`(?m)^func (Fuzz[A-Za-z0-9_]*)\(\w+ \*testing\.F\)`)

// TestTaskfileFuzzesEveryTarget: task fuzz, which docs/reliability.md
// says runs every fuzz target, names each Fuzz function of the module
// with its package, and nothing else.
func TestTaskfileFuzzesEveryTarget(t *testing.T) {
	sameTargets(t, taskFuzzTargets(t), "task fuzz does not run %s", "task fuzz runs %s, which is no fuzz target")
}

// TestFuzzTableListsEveryTarget: docs/reliability.md's table of fuzz
// targets ("Fuzzing") names each Fuzz function of the module in the row
// of its package, and no other.
func TestFuzzTableListsEveryTarget(t *testing.T) {
	b, err := os.ReadFile("../docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	row := regexp.MustCompile("(?m)^\\| (`Fuzz[^|]*) \\| `([^`]+)` \\|")
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		for _, name := range regexp.MustCompile("`(Fuzz\\w+)`").FindAllStringSubmatch(m[1], -1) {
			got = append(got, m[2]+" "+name[1])
		}
	}
	sameTargets(t, got, "docs/reliability.md's fuzz table lacks %s", "docs/reliability.md's fuzz table names %s, which is no fuzz target")
}

// sameTargets fails with missing for each of the module's fuzz targets
// not in got, and with extra for each of got that is none.
func sameTargets(t *testing.T, got []string, missing, extra string) {
	t.Helper()
	want := moduleFuzzTargets(t)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf(extra, g)
		}
	}
}

// moduleFuzzTargets are the module's fuzz targets as "package Target",
// sorted.
func moduleFuzzTargets(t *testing.T) []string {
	var want []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != ".." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", filepath.Dir(path))
		for _, m := range fuzzTarget.FindAllStringSubmatch(string(b), -1) {
			want = append(want, rel+" "+m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("no fuzz targets found in the module")
	}
	slices.Sort(want)
	return want
}
