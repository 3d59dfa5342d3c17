package web_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/emostream/emostream/web"
)

// The page's own references: src and href attributes, and ES module imports.
var (
	htmlRef   = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	importRef = regexp.MustCompile(`(?m)^\s*import\s[^;]*?from\s+"([^"]+)"`)
	remoteRef = regexp.MustCompile(`(?i)(?:src|href)="(?:https?:)?//|url\(\s*["']?(?:https?:)?//|from\s+"(?:https?:)?//`)
)

// TestStaticReferencesResolve checks that every file the page loads is
// embedded, and that the page loads nothing from another host (it must work
// offline).
func TestStaticReferencesResolve(t *testing.T) {
	files := web.Static()
	for _, name := range []string{"index.html", "app.css", "app.js", "api.js", "live.js", "sender.js", "swarm.js", "vendor/nats.js"} {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatalf("embedded file: %v", err)
		}
		if len(data) == 0 {
			t.Errorf("%s is empty", name)
		}
		if name == "vendor/nats.js" {
			continue // generated; checked for its exports below
		}
		if m := remoteRef.Find(data); m != nil {
			t.Errorf("%s loads from another host: %s", name, m)
		}
		re := importRef
		if strings.HasSuffix(name, ".html") {
			re = htmlRef
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			ref := string(m[1])
			if strings.HasPrefix(ref, "data:") {
				continue
			}
			target := path.Join(path.Dir(name), ref)
			if _, err := fs.Stat(files, target); err != nil {
				t.Errorf("%s refers to %q, which is not embedded: %v", name, ref, err)
			}
		}
	}
}

// TestVendoredClientExports checks that the bundled NATS client exports what
// live.js imports from it.
func TestVendoredClientExports(t *testing.T) {
	data, err := fs.ReadFile(web.Static(), "vendor/nats.js")
	if err != nil {
		t.Fatal(err)
	}
	exports := regexp.MustCompile(`export\s*\{([^}]*)\}`).FindSubmatch(data)
	if exports == nil {
		t.Fatal("vendor/nats.js is not an ES module (no export list)")
	}
	for _, name := range []string{"wsconnect", "Empty"} {
		if !regexp.MustCompile(`\bas ` + name + `\b`).Match(exports[1]) {
			t.Errorf("vendor/nats.js does not export %s; export list: %s", name, exports[1])
		}
	}
}

func TestClientConfigJSON(t *testing.T) {
	in := `{"ws_urls":["ws://127.0.0.1:9222"],"window_ms":2000,"swarm_threshold":1000,"emoji_types":["🔥"]}`
	var c web.ClientConfig
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != in {
		t.Errorf("round trip:\n got %s\nwant %s", got, in)
	}
}

// ExampleClientConfig shows the body of GET /v1/config.
func ExampleClientConfig() {
	cfg := web.ClientConfig{
		WebSocketURLs:  []string{"ws://127.0.0.1:9222", "ws://127.0.0.1:9223"},
		WindowMs:       2000,
		SwarmThreshold: 1000,
		EmojiTypes:     []string{"🔥", "👏", "😂"},
	}
	body, _ := json.Marshal(cfg)
	fmt.Println(string(body))
	// Output:
	// {"ws_urls":["ws://127.0.0.1:9222","ws://127.0.0.1:9223"],"window_ms":2000,"swarm_threshold":1000,"emoji_types":["🔥","👏","😂"]}
}
