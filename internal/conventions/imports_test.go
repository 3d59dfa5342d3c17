package conventions

import (
	"bufio"
	"bytes"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the module path; root is its directory from this package's.
const (
	module = "github.com/emostream/emostream/"
	root   = "../.."
)

// foundation reports whether a package under internal/ may depend on pkg
// (a path inside the module): other foundations under internal/, and wire.
// Everything else of the module is a stage or stands above the stages
// (ingest, bridge, processor, fanout, edge, registry, web, loadgen, bench,
// stack, cmd) and imports the foundations, never the other way round.
func foundation(pkg string) bool {
	return pkg == "wire" || strings.HasPrefix(pkg, "internal/")
}

// TestInternalIsOneLevel: no package under internal/, nor its tests,
// depends on a stage, directly or through another package. A helper that
// needs a stage sits beside it (fanout/fanouttest, registry/registrytest);
// what composes the stages sits above them (stack/).
func TestInternalIsOneLevel(t *testing.T) {
	deps := moduleDeps(t, "./internal/...")
	if len(deps) == 0 {
		t.Fatal("go list found no package under internal/")
	}
	for _, pkg := range slices.Sorted(maps.Keys(deps)) {
		for _, d := range slices.Sorted(maps.Keys(deps[pkg])) {
			if !foundation(d) {
				t.Errorf("%s depends on %s: a package under internal/ may use only internal/ and wire; "+
					"move what needs a stage beside that stage (as fanout/fanouttest) or above the stages (as stack/)", pkg, d)
			}
		}
	}
}

// moduleDeps runs go list on pattern, test variants included, and returns
// each package's transitive dependencies inside the module, as paths
// relative to it ("internal/broker"). The tests of pkg are "pkg (test)".
func moduleDeps(t *testing.T, pattern string) map[string]map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-test", "-f", `{{.ImportPath}}|{{join .Deps " "}}`, pattern)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr.String())
	}
	deps := map[string]map[string]bool{}
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		pkg, list, _ := strings.Cut(sc.Text(), "|")
		name := strings.TrimPrefix(pkg, module)
		if before, _, variant := strings.Cut(name, " ["); variant || strings.HasSuffix(name, ".test") {
			name = strings.TrimSuffix(strings.TrimSuffix(before, ".test"), "_test") + " (test)"
		}
		if deps[name] == nil {
			deps[name] = map[string]bool{}
		}
		for _, d := range strings.Fields(list) {
			if rel, ok := strings.CutPrefix(d, module); ok {
				deps[name][rel] = true
			}
		}
	}
	return deps
}
