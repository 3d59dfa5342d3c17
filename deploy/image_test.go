package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// Facts of the image that scripts/build-image.sh and Containerfile both
// state; the test holds each of them to these.
const (
	imageUser       = "65532:65532"
	imageEntrypoint = "/usr/local/bin/emostream"
	imageMaxBytes   = 60 << 20
)

// imageTools is how to install what TestImage needs.
const imageTools = "apt-get install -y umoci skopeo"

// imageConfig is the part of an OCI image configuration
// (skopeo inspect --config) the test checks.
type imageConfig struct {
	Created      string `json:"created"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User         string              `json:"User"`
		Env          []string            `json:"Env"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		WorkingDir   string              `json:"WorkingDir"`
		Volumes      map[string]struct{} `json:"Volumes"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Labels       map[string]string   `json:"Labels"`
	} `json:"config"`
}

// layerEntry is one file of the image's layer.
type layerEntry struct {
	mode     int64
	uid, gid int
	dir      bool
}

// TestImage builds the image with scripts/build-image.sh (once), inspects
// the archive with skopeo, reads its layer, unpacks it with umoci and runs
// emostream from the unpacked root file system (no container runtime: the
// binary runs directly); and checks that Containerfile describes the same
// image.
func TestImage(t *testing.T) {
	skopeo := testenv.RequireTool(t, "skopeo", imageTools)
	umoci := testenv.RequireTool(t, "umoci", imageTools)
	dir := t.TempDir()
	archive := filepath.Join(dir, "emostream.tar")
	want := expectedStamp(t)

	build := exec.Command("bash", filepath.Join("..", "scripts", "build-image.sh"), archive)
	build.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "VERSION" || k == "COMMIT" || k == "CREATED" || k == "SOURCE" || k == "SOURCE_DATE_EPOCH"
	})
	start := time.Now()
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-image.sh: %v\n%s", err, out)
	}
	fi, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %v: %s (%.1f MiB)", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(string(out)),
		float64(fi.Size())/(1<<20))
	if fi.Size() > imageMaxBytes {
		t.Errorf("the archive is %d bytes, over the 60 MiB budget", fi.Size())
	}

	cfgJSON, err := exec.Command(skopeo, "inspect", "--config", "oci-archive:"+archive).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --config: %v", err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatalf("skopeo inspect --config: %v\n%s", err, cfgJSON)
	}
	checkImageConfig(t, &cfg, want)

	layout := filepath.Join(dir, "oci")
	if out, err := exec.Command(skopeo, "copy", "--quiet", "oci-archive:"+archive, "oci:"+layout+":test").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy to an OCI layout: %v\n%s", err, out)
	}
	layer := readLayer(t, layout)
	checkLayer(t, layer)

	bundle := filepath.Join(dir, "bundle")
	if out, err := exec.Command(umoci, "unpack", "--rootless", "--image", layout+":test", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	checkRootfs(t, rootfs, want)

	t.Run("Containerfile", func(t *testing.T) { checkContainerfile(t, &cfg) })
}

// stamp is what the image should say about its source.
type stamp struct{ version, commit, created string }

// expectedStamp is what scripts/build-image.sh derives from git.
func expectedStamp(t *testing.T) stamp {
	t.Helper()
	s := stamp{version: "dev", commit: "unknown"}
	if _, err := exec.LookPath("git"); err != nil {
		return s
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	s.version = git("describe", "--tags", "--always", "--dirty")
	s.commit = git("rev-parse", "HEAD")
	s.created = git("log", "-1", "--date=format-local:%Y-%m-%dT%H:%M:%SZ", "--format=%cd")
	return s
}

func checkImageConfig(t *testing.T, cfg *imageConfig, want stamp) {
	t.Helper()
	c := cfg.Config
	if c.User != imageUser {
		t.Errorf("User %q, want %q (numeric: no passwd lookup needed, runAsNonRoot can check it)", c.User, imageUser)
	}
	if !slices.Equal(c.Entrypoint, []string{imageEntrypoint}) || len(c.Cmd) > 0 {
		t.Errorf("Entrypoint %q, Cmd %q; want [%s] and no Cmd", c.Entrypoint, c.Cmd, imageEntrypoint)
	}
	if _, ok := c.Volumes["/data"]; c.WorkingDir != "/data" || !ok || len(c.Volumes) != 1 {
		t.Errorf("WorkingDir %q, Volumes %v; want /data for both", c.WorkingDir, c.Volumes)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" {
		t.Errorf("os %q, architecture %q", cfg.OS, cfg.Architecture)
	}
	l := c.Labels
	const p = "org.opencontainers.image."
	for k, v := range map[string]string{"version": want.version, "revision": want.commit, "title": "emostream",
		"source": "https://github.com/emostream/emostream"} {
		if l[p+k] != v {
			t.Errorf("label %s%s = %q, want %q", p, k, l[p+k], v)
		}
	}
	created, err := time.Parse(time.RFC3339, l[p+"created"])
	if err != nil || l[p+"created"] != cfg.Created || want.created != "" && l[p+"created"] != want.created {
		t.Errorf("label %screated %q, image created %q: want the commit's time %q, RFC 3339 (%v)",
			p, l[p+"created"], cfg.Created, want.created, err)
	}
	if created.After(time.Now().Add(time.Minute)) {
		t.Errorf("created %v is in the future", created)
	}
	// Every port a command listens on by default, as a container would
	// publish it.
	for _, port := range []string{"4222", "6222", "7422", "8080", "8222", "9100", "9102", "9103", "9104", "9222"} {
		if _, ok := c.ExposedPorts[port+"/tcp"]; !ok {
			t.Errorf("ExposedPorts %v lacks %s/tcp", slices.Sorted(maps.Keys(c.ExposedPorts)), port)
		}
	}
}

// readLayer reads the image's one layer from an OCI layout.
func readLayer(t *testing.T, layout string) map[string]layerEntry {
	t.Helper()
	blob := func(digest string) []byte {
		b, err := os.ReadFile(filepath.Join(layout, "blobs", strings.Replace(digest, ":", "/", 1)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	}
	var index struct{ Manifests []descriptor }
	var manifest struct{ Layers []descriptor }
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil || json.Unmarshal(b, &index) != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v\n%s", err, b)
	}
	if err := json.Unmarshal(blob(index.Manifests[0].Digest), &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest: %v, %d layers; want 1", err, len(manifest.Layers))
	}
	var r io.Reader = bytes.NewReader(blob(manifest.Layers[0].Digest))
	if strings.HasSuffix(manifest.Layers[0].MediaType, "+gzip") {
		if r, err = gzip.NewReader(r); err != nil {
			t.Fatal(err)
		}
	}
	entries := map[string]layerEntry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatalf("layer: %v", err)
		}
		name := "/" + strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			t.Errorf("layer: %s is a %c entry; want only files and directories (no links, no devices)", name, h.Typeflag)
		}
		entries[name] = layerEntry{mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, dir: h.Typeflag == tar.TypeDir}
	}
}

// imageFiles are the files and directories of the image, with their
// owners and modes: nothing else (no shell, no package manager).
var imageFiles = map[string]layerEntry{
	"/etc":                               {0o755, 0, 0, true},
	"/etc/passwd":                        {0o644, 0, 0, false},
	"/etc/group":                         {0o644, 0, 0, false},
	"/etc/nsswitch.conf":                 {0o644, 0, 0, false},
	"/etc/ssl":                           {0o755, 0, 0, true},
	"/etc/ssl/certs":                     {0o755, 0, 0, true},
	"/etc/ssl/certs/ca-certificates.crt": {0o644, 0, 0, false},
	"/tmp":                               {0o1777, 0, 0, true},
	"/usr":                               {0o755, 0, 0, true},
	"/usr/local":                         {0o755, 0, 0, true},
	"/usr/local/bin":                     {0o755, 0, 0, true},
	"/usr/local/bin/emostream":           {0o755, 0, 0, false},
	"/data":                              {0o750, 65532, 65532, true},
}

func checkLayer(t *testing.T, layer map[string]layerEntry) {
	t.Helper()
	if !maps.Equal(layer, imageFiles) {
		for _, name := range slices.Sorted(maps.Keys(layer)) {
			t.Logf("layer: %s %+v", name, layer[name])
		}
		t.Errorf("the layer's files differ from imageFiles %v", imageFiles)
	}
}

// checkRootfs runs the binary of the unpacked image and reads its users.
func checkRootfs(t *testing.T, rootfs string, want stamp) {
	t.Helper()
	bin := filepath.Join(rootfs, imageEntrypoint)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: not static (CGO_ENABLED=0)")
		}
	}
	f.Close()
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// (Go does not record -ldflags with -trimpath: checkContainerfile
	// compares the script's with Containerfile's.)
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings %v: want CGO_ENABLED=0 and -trimpath", settings)
	}

	version, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(version), "emostream ") {
		t.Errorf("emostream version: %v\n%s", err, version)
	}
	switch {
	case strings.Contains(string(version), want.commit):
	case declaresStamp(t):
		t.Errorf("emostream version printed %q: want the stamped commit %s", version, want.commit)
	default: // cmd/emostream has no main.commit yet to take the -X value
		t.Logf("emostream version printed %q: cmd/emostream declares no main.version and main.commit for -ldflags -X yet", version)
	}
	help, err := exec.Command(bin, "up", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(help), "Usage: emostream up") {
		t.Errorf("emostream up --help: %v\n%s", err, help)
	}

	passwd, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	group, err := os.ReadFile(filepath.Join(rootfs, "etc", "group"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^emostream:x:65532:65532:[^:]*:/data:/sbin/nologin$`).Match(passwd) ||
		!regexp.MustCompile(`(?m)^emostream:x:65532:$`).Match(group) {
		t.Errorf("/etc/passwd and /etc/group: want user and group emostream, 65532, home /data, no login shell:\n%s%s", passwd, group)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin", "sh")); err == nil {
		t.Error("the image has /bin/sh")
	}
}

// declaresStamp reports whether package main of cmd/emostream declares
// the package-level variables version and commit that -ldflags -X sets.
func declaresStamp(t *testing.T) bool {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), filepath.Join("..", "cmd", "emostream"), func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range pkgs["main"].Files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						found[n.Name] = true
					}
				}
			}
		}
	}
	return found["version"] && found["commit"]
}

// containerfile is what Containerfile says about the image: the build
// stage's base and go build, the final stage's configuration and COPYs.
type containerfile struct {
	builder  string            // the golang image of the build stage
	buildRun string            // the build stage's RUN with go build
	args     map[string]string // ARG defaults of the final stage
	env      []string
	labels   map[string]string
	ports    []string
	user     string
	workdir  string
	volumes  []string
	entry    []string
	copies   []string // the final stage's COPY arguments
}

// parseContainerfile reads the instructions of Containerfile: comments,
// continuation lines, JSON and shell forms as far as this file uses them.
func parseContainerfile(t *testing.T, path string) *containerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cf := &containerfile{args: map[string]string{}, labels: map[string]string{}}
	var lines []string
	pending := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		lines = append(lines, pending+line)
		pending = ""
	}
	stages := 0
	for _, line := range lines {
		op, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		op = strings.ToUpper(op)
		if op == "FROM" {
			stages++
			if stages == 1 {
				cf.builder, _, _ = strings.Cut(rest, " ")
			}
			continue
		}
		if stages == 1 {
			if op == "RUN" && strings.Contains(rest, "go build") {
				cf.buildRun = rest
			}
			continue
		}
		switch op {
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			cf.args[k] = v
		case "ENV":
			cf.env = append(cf.env, strings.Fields(rest)...)
		case "LABEL":
			for _, m := range labelPair.FindAllStringSubmatch(rest, -1) {
				cf.labels[m[1]] = m[2]
			}
		case "EXPOSE":
			cf.ports = append(cf.ports, strings.Fields(rest)...)
		case "USER":
			cf.user = rest
		case "WORKDIR":
			cf.workdir = rest
		case "VOLUME":
			cf.volumes = append(cf.volumes, strings.Fields(rest)...)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &cf.entry); err != nil {
				t.Errorf("ENTRYPOINT %s: want the JSON form (no shell in the image): %v", rest, err)
			}
		case "COPY":
			cf.copies = append(cf.copies, rest)
		default:
			t.Errorf("Containerfile: %s in the final stage: this test does not know it; compare it with the script's image", op)
		}
	}
	if stages != 2 {
		t.Errorf("Containerfile has %d stages, want 2 (build, then the image)", stages)
	}
	return cf
}

var labelPair = regexp.MustCompile(`([a-z0-9.]+)="([^"]*)"`)

// checkContainerfile: Containerfile builds the image the script builds:
// the same configuration (its ARGs set to the script's values), the same
// files (one COPY of what deploy/image/rootfs.sh lays out), the same Go
// build.
func checkContainerfile(t *testing.T, cfg *imageConfig) {
	cf := parseContainerfile(t, filepath.Join("..", "Containerfile"))
	const p = "org.opencontainers.image."
	args := maps.Clone(cf.args)
	args["VERSION"], args["REVISION"], args["CREATED"] = cfg.Config.Labels[p+"version"], cfg.Config.Labels[p+"revision"],
		cfg.Config.Labels[p+"created"]
	expand := func(s string) string { return os.Expand(s, func(k string) string { return args[k] }) }
	for k := range maps.Keys(cf.args) {
		if _, ok := args[k]; !ok {
			t.Errorf("ARG %s: unknown to this test", k)
		}
	}

	labels := map[string]string{}
	for k, v := range cf.labels {
		labels[k] = expand(v)
	}
	if !maps.Equal(labels, cfg.Config.Labels) {
		t.Errorf("LABEL %v, the script's image has %v", labels, cfg.Config.Labels)
	}
	var ports []string
	for _, port := range cf.ports {
		ports = append(ports, port+"/tcp")
	}
	if got, want := slices.Sorted(slices.Values(ports)), slices.Sorted(maps.Keys(cfg.Config.ExposedPorts)); !slices.Equal(got, want) {
		t.Errorf("EXPOSE %v, the script's image %v", got, want)
	}
	if cf.user != cfg.Config.User || cf.workdir != cfg.Config.WorkingDir || !slices.Equal(cf.entry, cfg.Config.Entrypoint) ||
		!slices.Equal(slices.Sorted(slices.Values(cf.volumes)), slices.Sorted(maps.Keys(cfg.Config.Volumes))) ||
		!slices.Equal(cf.env, cfg.Config.Env) {
		t.Errorf("USER %q WORKDIR %q ENTRYPOINT %q VOLUME %q ENV %q; the script's image: %q %q %q %v %q", cf.user, cf.workdir,
			cf.entry, cf.volumes, cf.env, cfg.Config.User, cfg.Config.WorkingDir, cfg.Config.Entrypoint, cfg.Config.Volumes, cfg.Config.Env)
	}

	// The files: the build stage lays out /out with deploy/image/rootfs.sh,
	// as the script does, and the image is /out in one COPY (which keeps
	// the modes and owners of /out's directories).
	if !slices.Equal(cf.copies, []string{"--from=build /out/ /"}) {
		t.Errorf("the final stage COPYs %q; want only --from=build /out/ /", cf.copies)
	}
	script, err := os.ReadFile(filepath.Join("..", "scripts", "build-image.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cf.buildRun, "-o /out"+imageEntrypoint+" ./cmd/emostream") ||
		!strings.Contains(cf.buildRun, "&& sh deploy/image/rootfs.sh /out") ||
		!strings.Contains(string(script), "\nsh deploy/image/rootfs.sh \"$root\"") {
		t.Errorf("the build stage's RUN %q and scripts/build-image.sh must both build into %s and run deploy/image/rootfs.sh",
			cf.buildRun, imageEntrypoint)
	}

	// The build: the Go of go.mod, the script's flags.
	gomod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(cf.builder, "golang:"+string(goVersion[1])+"-") {
		t.Errorf("FROM %s: want golang:<go.mod's go %s>-…", cf.builder, goVersion[1])
	}
	// The same go build, the script's $VERSION and $COMMIT being
	// Containerfile's ${VERSION} and ${REVISION}.
	build := regexp.MustCompile(`CGO_ENABLED=0 (?:GOOS=linux GOARCH=\$arch )?(go build -trimpath -buildvcs=auto) +-ldflags="([^"]*)"`)
	inFile, inScript := build.FindStringSubmatch(cf.buildRun), build.FindStringSubmatch(strings.ReplaceAll(string(script), "\\\n", " "))
	if inFile == nil || inScript == nil ||
		inFile[2] != strings.NewReplacer("$VERSION", "${VERSION}", "$COMMIT", "${REVISION}").Replace(inScript[2]) {
		t.Errorf("go build: Containerfile %q, scripts/build-image.sh %q: want CGO_ENABLED=0 go build -trimpath -buildvcs=auto "+
			"with the same -ldflags", inFile, inScript)
	}
}
