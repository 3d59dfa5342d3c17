package deploy

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/internal/testenv"
)

// installedBinary is where the units expect emostream.
const installedBinary = "/usr/local/bin/emostream"

// unit is a parsed unit file: section, key, values in order.
type unit map[string]map[string][]string

// parseUnit reads a unit file: comments, continuation lines, repeated keys.
func parseUnit(path string) (unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u, section, pending := unit{}, "", ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := pending + strings.TrimSpace(sc.Text())
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending = cont + " "
			continue
		}
		pending = ""
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

// get is the last value of a key, as systemd reads it.
func (u unit) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// unitStages maps each unit file to the emostream command it runs.
var unitStages = map[string]string{
	"emostream-ingest.service": "ingest", "emostream-bridge.service": "bridge",
	"emostream-processor.service": "processor", "emostream-hub.service": "hub", "emostream-leaf@.service": "leaf",
	"emostream-edge.service": "edge",
}

// hardening are [Service] settings every unit has, with their values.
var hardening = map[string]string{
	"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
	"PrivateDevices": "yes", "CapabilityBoundingSet": "", "Restart": "on-failure", "UMask": "0077",
}

// TestSystemdUnits checks every unit of deploy/systemd: what it runs (flags
// the binary defines, the stage's own NATS user, secrets as credentials),
// its hardening and limits, and that its operational listeners stay on
// loopback.
func TestSystemdUnits(t *testing.T) {
	for name, stage := range unitStages {
		t.Run(name, func(t *testing.T) {
			u, err := parseUnit(filepath.Join("systemd", name))
			if err != nil {
				t.Fatal(err)
			}
			checkUnit(t, u, stage)
		})
	}
	paths, _ := filepath.Glob(filepath.Join("systemd", "*"))
	for _, p := range paths {
		if _, ok := unitStages[filepath.Base(p)]; !ok {
			t.Errorf("%s: not a unit this test knows (add it to unitStages)", p)
		}
	}
}

func checkUnit(t *testing.T, u unit, stage string) {
	exec := strings.Fields(u.get("Service", "ExecStart"))
	if len(u["Service"]["ExecStart"]) != 1 || len(exec) < 2 || exec[0] != installedBinary {
		t.Fatalf("ExecStart %q: want one %s command", u["Service"]["ExecStart"], installedBinary)
	}
	command, flags, err := parseArgs(t, exec[1:])
	if err != nil {
		t.Errorf("ExecStart: %v", err)
	}
	if command != stage {
		t.Errorf("ExecStart runs emostream %s, want %s", command, stage)
	}
	for k, v := range hardening {
		if got, ok := u["Service"][k]; !ok || u.get("Service", k) != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if u.get("Service", "DynamicUser") != "yes" && (u.get("Service", "User") == "" || u.get("Service", "User") == "root") {
		t.Error("want DynamicUser=yes or a dedicated User=")
	}
	checkUnitLimits(t, u, stage)
	checkEdgeFlags(t, command, flags, u.get("Service", "LimitNOFILE"))
	checkUnitSecrets(t, u, stage, flags)
	checkCredentials(t, command, flags, nil)
	checkUnitListeners(t, flags)
}

func checkUnitLimits(t *testing.T, u unit, stage string) {
	t.Helper()
	want := int64(65536)
	if stage == "ingest" || stage == "leaf" || stage == "edge" { // one file per viewer or HTTP connection
		want = 1 << 20
	}
	if n, err := strconv.ParseInt(u.get("Service", "LimitNOFILE"), 10, 64); err != nil || n < want {
		t.Errorf("LimitNOFILE=%s, want at least %d", u.get("Service", "LimitNOFILE"), want)
	}
	if stage == "hub" {
		dir := u.get("Service", "StateDirectory")
		if dir == "" || u.get("Service", "WorkingDirectory") != "%S/"+dir {
			t.Errorf("hub: StateDirectory=%q WorkingDirectory=%q: want the JetStream store (nats.conf's relative store_dir) in the state directory",
				dir, u.get("Service", "WorkingDirectory"))
		}
	}
}

// credentialRef is a file systemd hands over with LoadCredential=.
var credentialRef = regexp.MustCompile(`^%d/([A-Za-z0-9_.-]+)$`)

// checkUnitSecrets: secret files come through LoadCredential= (%d/NAME);
// an EnvironmentFile= only where a .conf reads its secrets from the
// environment (hub, leaf), and no EMOSTREAM_ setting in Environment=.
func checkUnitSecrets(t *testing.T, u unit, stage string, flags map[string]string) {
	t.Helper()
	creds := map[string]bool{}
	for _, lc := range u["Service"]["LoadCredential"] {
		name, path, _ := strings.Cut(lc, ":")
		creds[name] = strings.HasPrefix(path, "/")
	}
	for f, v := range flags {
		m := credentialRef.FindStringSubmatch(v)
		secret := strings.HasSuffix(f, "password-file") || strings.HasSuffix(f, "secret-file") || strings.HasSuffix(f, "token-file")
		switch {
		case m != nil && !creds[m[1]]:
			t.Errorf("--%s=%s: no LoadCredential=%s:/absolute/path", f, v, m[1])
		case m == nil && secret:
			t.Errorf("--%s=%s: give secrets with LoadCredential= and %%d/NAME", f, v)
		}
	}
	if envFile := u["Service"]["EnvironmentFile"]; len(envFile) > 0 && stage != "hub" && stage != "leaf" {
		t.Errorf("EnvironmentFile=%q: give settings as flags and secrets as credentials", envFile)
	}
	for _, e := range u["Service"]["Environment"] {
		if strings.Contains(e, "EMOSTREAM_") {
			t.Errorf("Environment=%s: give settings as flags", e)
		}
	}
}

// opsFlags name the operational listeners: they stay on loopback.
var opsFlags = []string{"ops", "monitor", "pprof"}

// checkUnitListeners: the operational listeners of the flags, and the
// monitoring address of a .conf loaded with -c, are on loopback.
func checkUnitListeners(t *testing.T, flags map[string]string) {
	t.Helper()
	for _, f := range opsFlags {
		if v, ok := flags[f]; ok && v != "" && !isLoopback(parseListener(t, "--"+f, v).host) {
			t.Errorf("--%s=%s: keep it on loopback", f, v)
		}
	}
	conf, ok := flags["c"]
	if !ok {
		return
	}
	// /etc/emostream/nats.conf is ../nats.conf, leaf-%i.conf each leaf-*.conf.
	pattern := strings.ReplaceAll(filepath.Base(conf), "%i", "*")
	files, _ := filepath.Glob(pattern)
	more, _ := filepath.Glob(filepath.Join("..", pattern))
	files = append(files, more...)
	if !strings.HasPrefix(conf, "/etc/emostream/") || len(files) == 0 {
		t.Fatalf("-c=%s: want /etc/emostream/ and a repository .conf of that name", conf)
	}
	setConfSecrets(t)
	for _, f := range files {
		opts := &server.Options{}
		if err := opts.ProcessConfigFile(f); err != nil {
			t.Fatalf("-c=%s (%s): %v", conf, f, err)
		}
		if opts.HTTPPort != 0 && !isLoopback(opts.HTTPHost) {
			t.Errorf("%s: monitoring on %s: keep it on loopback", f, opts.HTTPHost)
		}
	}
}

// TestSystemdAnalyze runs systemd-analyze verify on every unit (a template
// as an instance), emostream replaced by a stub, and refuses any warning;
// and systemd-analyze security, which must rate each unit's exposure 2.0
// or lower ("OK").
func TestSystemdAnalyze(t *testing.T) {
	analyze := testenv.RequireTool(t, "systemd-analyze", "apt-get install -y systemd")
	dir := t.TempDir()
	stub := filepath.Join(dir, "emostream")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var units []string
	for name := range unitStages {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "ExecStart="+installedBinary+" ") {
			t.Fatalf("%s: ExecStart does not run %s", name, installedBinary)
		}
		p := filepath.Join(dir, strings.Replace(name, "@.", "@test.", 1))
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), installedBinary, stub)), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	slices.Sort(units)
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, p := range units {
		out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", "--no-pager", p).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security %s: exposure above 2.0 (%v):\n%s", filepath.Base(p), err, out)
		}
	}
}

// TestSystemdUnitsDocumented: docs/operations.md's "Deploying with
// systemd" names every unit of deploy/systemd, so an operator following
// it installs and enables each stage.
func TestSystemdUnitsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Deploying with systemd\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for name := range unitStages {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("docs/operations.md, \"Deploying with systemd\", does not name %s", name)
		}
		unit := strings.TrimSuffix(strings.Replace(name, "@.service", "@a", 1), ".service")
		if !strings.Contains(section, "systemctl enable --now") || !regexp.MustCompile(`systemctl enable --now[^\n]* `+regexp.QuoteMeta(unit)+`\b`).MatchString(section) {
			t.Errorf("docs/operations.md, \"Deploying with systemd\": systemctl enable --now does not start %s", unit)
		}
	}
}
