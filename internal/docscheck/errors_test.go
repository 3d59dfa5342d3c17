package docscheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/emostream/emostream/wire"
)

// errorRow is a row of docs/api.md's error table: | status | `code` | when |.
var errorRow = regexp.MustCompile("(?m)^\\| (\\d{3}) \\| `([a-z_]+)` \\|")

// TestAPIErrorTable: every client error code of wire.ClientErrors is in
// docs/api.md's error table with the same status, and the table lists no
// code the server does not have.
func TestAPIErrorTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]int{}
	for _, m := range errorRow.FindAllStringSubmatch(string(b), -1) {
		status, _ := strconv.Atoi(m[1])
		documented[m[2]] = status
	}
	known := map[string]bool{}
	for _, e := range wire.ClientErrors {
		known[e.Code] = true
		switch got, ok := documented[e.Code]; {
		case !ok:
			t.Errorf("docs/api.md's error table lacks %s (%d)", e.Code, e.Status)
		case got != e.Status:
			t.Errorf("docs/api.md gives %s status %d, the server %d", e.Code, got, e.Status)
		}
	}
	for code := range documented {
		if !known[code] {
			t.Errorf("docs/api.md documents %s, which is not in wire.ClientErrors", code)
		}
	}
}
