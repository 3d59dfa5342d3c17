package conventions

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sourceFile is a parsed non-test Go file of the module.
type sourceFile struct {
	pkg  string // the package's path in the module ("ingest", "cmd/emostream")
	file *ast.File
}

var (
	parseOnce sync.Once
	parsed    []sourceFile
	fileSet   = token.NewFileSet()
	parseErr  error
)

// sources parses every non-test Go file of the module once.
func sources(t *testing.T) []sourceFile {
	t.Helper()
	parseOnce.Do(func() {
		parseErr = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fileSet, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			dir, _ := filepath.Rel(root, filepath.Dir(path))
			parsed = append(parsed, sourceFile{pkg: filepath.ToSlash(dir), file: f})
			return nil
		})
	})
	if parseErr != nil {
		t.Fatal(parseErr)
	}
	return parsed
}

// structs calls visit with every struct type declared in the module.
func structs(t *testing.T, visit func(pkg, name string, st *ast.StructType)) {
	for _, sf := range sources(t) {
		ast.Inspect(sf.file, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					visit(sf.pkg, ts.Name.Name, st)
				}
			}
			return true
		})
	}
}

// isConfig reports whether a struct type's name makes it a configuration:
// Config, or one that ends so (HubConfig, AuthConfig).
func isConfig(name string) bool { return strings.HasSuffix(name, "Config") }

// declared calls visit with every identifier the module declares: types,
// functions, methods, constants, variables, parameters, results, struct
// fields and locals.
func declared(t *testing.T, visit func(id *ast.Ident)) {
	for _, sf := range sources(t) {
		ast.Inspect(sf.file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeSpec:
				visit(n.Name)
			case *ast.FuncDecl:
				visit(n.Name)
			case *ast.ValueSpec:
				for _, id := range n.Names {
					visit(id)
				}
			case *ast.Field:
				for _, id := range n.Names {
					visit(id)
				}
			case *ast.AssignStmt:
				if n.Tok == token.DEFINE {
					for _, e := range n.Lhs {
						if id, ok := e.(*ast.Ident); ok {
							visit(id)
						}
					}
				}
			case *ast.RangeStmt:
				for _, e := range []ast.Expr{n.Key, n.Value} {
					if id, ok := e.(*ast.Ident); ok && n.Tok == token.DEFINE {
						visit(id)
					}
				}
			}
			return true
		})
	}
}
