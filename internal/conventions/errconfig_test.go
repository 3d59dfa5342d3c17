package conventions

import (
	"go/ast"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// noErrConfig are the packages with a Config type that need no ErrConfig,
// and why.
var noErrConfig = map[string]string{
	"web":              "ClientConfig is the body of GET /v1/config, not a component's configuration",
	"internal/streams": "Config tunes the streams, and every value is taken: there is nothing to refuse",
}

// TestErrConfig: every package that declares a Config (or a …Config)
// declares ErrConfig, which its configuration errors wrap
// (docs/design.md, "Validation names the setting").
func TestErrConfig(t *testing.T) {
	configs, errConfig := map[string]bool{}, map[string]bool{}
	structs(t, func(pkg, name string, _ *ast.StructType) {
		if isConfig(name) && pkg != "cmd/emostream" {
			configs[pkg] = true
		}
	})
	declared(t, func(id *ast.Ident) {
		if id.Name == "ErrConfig" {
			errConfig[pkgOf(id)] = true
		}
	})
	for _, pkg := range slices.Sorted(maps.Keys(configs)) {
		if why, ok := noErrConfig[pkg]; ok {
			if errConfig[pkg] {
				t.Errorf("%s declares ErrConfig: take it off noErrConfig (%s)", pkg, why)
			}
			continue
		}
		if !errConfig[pkg] {
			t.Errorf("%s declares a Config but no ErrConfig for its configuration errors to wrap", pkg)
		}
	}
}

// pkgOf is the module package of the file that declares id.
func pkgOf(id *ast.Ident) string {
	for _, sf := range parsed {
		if sf.file.FileStart <= id.Pos() && id.Pos() <= sf.file.FileEnd {
			return sf.pkg
		}
	}
	return ""
}

// TestErrorCodeNames: each client error code's constant in wire is named
// after the code (CodeKafkaUnavailable for "kafka_unavailable"), so that
// code and constant read the same.
func TestErrorCodeNames(t *testing.T) {
	n := 0
	for _, sf := range sources(t) {
		if sf.pkg != "wire" {
			continue
		}
		ast.Inspect(sf.file, func(node ast.Node) bool {
			vs, ok := node.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				name, isCode := strings.CutPrefix(id.Name, "Code")
				if !isCode || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				n++
				if !strings.EqualFold(name, strings.ReplaceAll(code, "_", "")) {
					t.Errorf("%s: %s = %q: name the constant after the code", fileSet.Position(id.Pos()), id.Name, code)
				}
			}
			return true
		})
	}
	if n < 10 {
		t.Fatalf("found %d error code constants in wire", n)
	}
}
