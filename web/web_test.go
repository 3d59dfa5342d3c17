package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
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

// TestStaticReferencesResolve checks that every file the pages load is
// embedded, and that they load nothing from another host (they must work
// offline).
func TestStaticReferencesResolve(t *testing.T) {
	files := web.Static()
	pages, err := fs.Glob(files, "*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("pages %v (%v), want index.html and more", pages, err)
	}
	scripts, _ := fs.Glob(files, "*.js")
	for _, name := range append(pages, scripts...) {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatalf("embedded file: %v", err)
		}
		if len(data) == 0 {
			t.Errorf("%s is empty", name)
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

// TestStaticClient: the page's tree holds the embeddable client at
// web.ClientPath, the bytes of web.Client(); the folder holds nothing else.
func TestStaticClient(t *testing.T) {
	got, err := fs.ReadFile(web.Static(), web.ClientPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, web.Client()) {
		t.Errorf("%s is not web.Client()", web.ClientPath)
	}
	entries, err := fs.ReadDir(web.Static(), "client")
	if err != nil || len(entries) != 1 || entries[0].Name() != path.Base(web.ClientPath) {
		t.Errorf("client/ holds %v (%v), want only %s", entries, err, path.Base(web.ClientPath))
	}
	for _, name := range []string{"client/emostream.js", "client/../index.html", "client/", "live.js", "vendor/nats.js"} {
		if _, err := fs.Stat(web.Static(), name); err == nil {
			t.Errorf("%s is embedded", name)
		}
	}
}

// TestVendoredHLS checks that the vendored hls.js is the version
// web/build pins, with its licence header and LICENSE, an ES module
// exporting Hls as its default.
func TestVendoredHLS(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile("build/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	version := pkg.Dependencies["hls.js"]
	data, err := fs.ReadFile(web.Static(), "vendor/hls.light.min.js")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if want := "// hls.js " + version + " (Apache-2.0, https://github.com/video-dev/hls.js)"; version == "" || !strings.HasPrefix(string(first), want) {
		t.Errorf("vendor/hls.light.min.js starts %q, want %q (web/build/build.sh)", first, want)
	}
	if !regexp.MustCompile(`export\s*\{[^}]*\bas default\b`).Match(data) {
		t.Error("vendor/hls.light.min.js is not an ES module with a default export")
	}
	if bytes.Contains(data, []byte("sourceMappingURL")) {
		t.Error("vendor/hls.light.min.js points at a source map that is not vendored")
	}
	if lic, err := fs.ReadFile(web.Static(), "vendor/hls.js.LICENSE"); err != nil || !bytes.Contains(lic, []byte("Apache License")) {
		t.Errorf("vendor/hls.js.LICENSE: %v", err)
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
