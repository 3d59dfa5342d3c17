package conventions

import (
	"go/ast"
	"go/token"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// nameRow is a row of the names table of docs/design.md "Conventions".
type nameRow struct {
	concept string
	fields  []string // Config fields; "Disable…" a prefix, "MomentRule.Disable" a type's field
	json    string   // the JSON name, and jsonField the Go field that carries it
	jsonFld string
	flags   []string // without "--" and "=false"
	refused []string // names the code must not declare; "No…" a prefix
}

// backticked matches the `code` spans of a table cell.
var backticked = regexp.MustCompile("`([^`]+)`")

// goName matches a Go name as the table writes it: a field, Type.Field, or
// a prefix ending in "…".
var goName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?…?$`)

// namesTable parses the table that follows the **Names.** paragraph.
func namesTable(t *testing.T) []nameRow {
	t.Helper()
	var rows []nameRow
	for _, line := range strings.Split(afterHeading(t, conventions(t), "**Names.**"), "\n") {
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 6 {
			t.Fatalf("names table row %q: want 6 cells (concept, Go field, zero, JSON, flag, refused)", line)
		}
		if strings.TrimSpace(cells[0]) == "concept" || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		r := nameRow{concept: strings.TrimSpace(cells[0]), refused: codeNames(cells[5])}
		r.fields = codeNames(cells[1])
		if js := spans(cells[3]); len(js) > 0 {
			r.json = js[0]
			if len(js) > 1 {
				r.jsonFld = js[1]
			}
		}
		for _, f := range spans(cells[4]) {
			if name, ok := strings.CutPrefix(f, "--"); ok {
				name, _, _ = strings.Cut(name, "=")
				r.flags = append(r.flags, strings.Fields(name)[0])
			}
		}
		rows = append(rows, r)
	}
	if len(rows) < 10 {
		t.Fatalf("the names table has %d rows", len(rows))
	}
	return rows
}

// spans are the code spans of a cell.
func spans(cell string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// codeNames are the Go names among a cell's code spans: the first word of
// each ("KafkaBrokers []string" names KafkaBrokers).
func codeNames(cell string) []string {
	var out []string
	for _, s := range spans(cell) {
		if f := strings.Fields(s); len(f) > 0 && goName.MatchString(f[0]) {
			out = append(out, f[0])
		}
	}
	return out
}

// TestNamesTable: each concept of the names table has the one Go name, JSON
// name and flag the table gives it, and the code declares none of the
// names it refuses.
func TestNamesTable(t *testing.T) {
	rows := namesTable(t)
	fields := map[string]bool{}         // fields of Config structs
	typeFields := map[string]bool{}     // "Type.Field" of every struct
	jsonFields := map[string][]string{} // JSON name → "pkg.Type.Field" carrying it
	structs(t, func(pkg, name string, st *ast.StructType) {
		for _, f := range st.Fields.List {
			for _, id := range f.Names {
				typeFields[name+"."+id.Name] = true
				if isConfig(name) {
					fields[id.Name] = true
				}
				if f.Tag != nil {
					tag, _ := strconv.Unquote(f.Tag.Value)
					if js, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ","); js != "" {
						jsonFields[js] = append(jsonFields[js], pkg+"."+name+"."+id.Name)
					}
				}
			}
		}
	})
	flags := definedFlags(t)
	for _, r := range rows {
		for _, f := range r.fields {
			if !hasField(f, fields, typeFields) {
				t.Errorf("%s: the table names the field %s, which no Config has", r.concept, f)
			}
		}
		if r.json != "" {
			checkJSON(t, r, jsonFields[r.json])
		}
		for _, f := range r.flags {
			if !flags[f] {
				t.Errorf("%s: the table names the flag --%s, which no command defines", r.concept, f)
			}
		}
	}
	declared(t, func(id *ast.Ident) {
		for _, r := range rows {
			for _, name := range r.refused {
				if refuses(name, id.Name) {
					t.Errorf("%s: %s is declared; the names table says %s for %q (it refuses %s)",
						fileSet.Position(id.Pos()), id.Name, strings.Join(r.fields, ", "), r.concept, name)
				}
			}
		}
	})
}

// hasField reports whether the table's field f is a Config's field (or
// the named type's, for Type.Field; or a prefix of one, for "Disable…").
func hasField(f string, fields, typeFields map[string]bool) bool {
	if prefix, ok := strings.CutSuffix(f, "…"); ok {
		return slices.ContainsFunc(slices.Collect(maps.Keys(fields)), func(name string) bool { return strings.HasPrefix(name, prefix) })
	}
	if strings.Contains(f, ".") {
		return typeFields[f]
	}
	return fields[f]
}

// checkJSON: the row's JSON name is a field's, and every field that
// carries it has the row's Go name.
func checkJSON(t *testing.T, r nameRow, carriers []string) {
	t.Helper()
	if len(carriers) == 0 {
		t.Errorf("%s: no struct field has the JSON name %q", r.concept, r.json)
	}
	for _, c := range carriers {
		if r.jsonFld != "" && !strings.HasSuffix(c, "."+r.jsonFld) {
			t.Errorf("%s: %s carries %q; the table says the Go name of %q is %s", r.concept, c, r.json, r.json, r.jsonFld)
		}
	}
}

// refuses reports whether the refused name (or prefix, "No…") matches id:
// a prefix matches where an upper-case letter follows it.
func refuses(refused, id string) bool {
	prefix, isPrefix := strings.CutSuffix(refused, "…")
	if !isPrefix {
		return id == refused
	}
	rest, ok := strings.CutPrefix(id, prefix)
	return ok && rest != "" && unicode.IsUpper([]rune(rest)[0])
}

// definedFlags are the flags cmd/emostream defines: the name argument of
// every fs.XxxVar(&v, "name", …) and fs.Var(v, "name", …). A deprecated
// spelling (deprecate(fs, "old", "new")) is not among them.
func definedFlags(t *testing.T) map[string]bool {
	flags := map[string]bool{}
	for _, sf := range sources(t) {
		if sf.pkg != "cmd/emostream" {
			continue
		}
		ast.Inspect(sf.file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Var") {
				return true
			}
			if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				name, _ := strconv.Unquote(lit.Value)
				flags[name] = true
			}
			return true
		})
	}
	if len(flags) < 50 {
		t.Fatalf("found %d flags in cmd/emostream", len(flags))
	}
	return flags
}
