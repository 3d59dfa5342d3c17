package main

import (
	"bufio"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
)

// stageProc is one stage run alone as its own process, and where it
// serves.
type stageProc struct {
	name    string
	c       *child
	metrics string // the URL of its /metrics
}

// startStage runs emostream args in dir as a child, with the extra
// environment, and waits until its output matches each of res; it
// returns the first submatch of each.
func startStage(t *testing.T, dir string, env, args []string, res ...string) (*child, []string) {
	t.Helper()
	c := startChild(t, dir, env, args...)
	var got []string
	testenv.WaitFor(t, time.Minute, strings.Join(args[:1], " ")+" printing its addresses", func() bool {
		select {
		case <-c.done:
			t.Fatalf("%v exited: %v\n%s%s", args, c.cmd.ProcessState, c.stdout.String(), c.stderr.String())
		default:
		}
		got = got[:0]
		for _, re := range res {
			m := regexp.MustCompile(re).FindStringSubmatch(c.stdout.String())
			if m == nil {
				return false
			}
			got = append(got, m[1])
		}
		return true
	})
	return c, got
}

// scrape returns the metric families of a /metrics answer, by name (as
// "# TYPE" names them: a histogram's base name) and their type.
func scrape(t *testing.T, url string) map[string]string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %s", url, res.Status)
	}
	fams := map[string]string{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			fams[f[2]] = f[3]
		}
	}
	return fams
}

// varz returns the fields of a nats-server's /varz.
func varz(t *testing.T, monitor string) map[string]any {
	t.Helper()
	res, err := http.Get(monitor + "/varz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("%s/varz: %v", monitor, err)
	}
	return v
}

// metricName is a metric of a stage, of the Go or process collector, or
// prometheus-nats-exporter's name of a /varz field.
var metricName = regexp.MustCompile(`\b(?:emostream|process|go|gnatsd_varz)_[a-z0-9_]*[a-z0-9]`)

// dashboardMetrics are the metric names the Grafana dashboard queries.
func dashboardMetrics(t *testing.T) []string {
	b, err := os.ReadFile("../../deploy/grafana/emostream.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range metricName.FindAllString(string(b), -1) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// alertMetrics are the metrics docs/metrics.md's tables of metrics alert
// on: those of a row whose alert is not "none", and those an alert names;
// and the /varz fields of its table of fields that carry an alert.
func alertMetrics(t *testing.T) (metrics, fields []string) {
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	field := regexp.MustCompile("`([a-z_]+)`")
	header := "" // the first column of the table the line is in
	for line := range strings.SplitSeq(string(b), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		switch {
		case !strings.HasPrefix(line, "|"):
			header = ""
			continue
		case header == "":
			header = cells[0]
			continue
		case header != "metric" && header != "field" || strings.HasPrefix(line, "|---") || len(cells) < 2:
			continue
		}
		alert := cells[len(cells)-1]
		if strings.HasPrefix(alert, "none") {
			continue
		}
		if header == "field" { // the fan-out table: /varz fields
			for _, m := range field.FindAllStringSubmatch(cells[0], -1) {
				fields = append(fields, m[1])
			}
			continue
		}
		for _, n := range metricName.FindAllString(cells[0]+" "+alert, -1) {
			if !slices.Contains(metrics, n) {
				metrics = append(metrics, n)
			}
		}
	}
	if len(metrics) < 40 || len(fields) < 4 {
		t.Fatalf("read %d metrics and %d /varz fields from docs/metrics.md's alerts: the table format changed?", len(metrics), len(fields))
	}
	return metrics, fields
}

// exported reports whether name is a family of fams, or a series of one:
// foo_bucket, foo_sum and foo_count of a histogram or summary foo.
func exported(fams map[string]string, name string) bool {
	if _, ok := fams[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if typ := fams[base]; typ == "histogram" || typ == "summary" {
				return true
			}
		}
	}
	return false
}

// TestStageMetricsParity runs every stage alone, each its own process as
// an operator runs them (and up beside them), sends reactions through the
// pipeline, and scrapes each stage's --ops listener: each serves the
// process and Go collectors and its own metrics (ingest the registry's
// too), and every metric the Grafana dashboard queries or docs/metrics.md
// alerts on is served by some stage (a /varz field, for the NATS
// servers' gnatsd_varz_* of prometheus-nats-exporter).
func TestStageMetricsParity(t *testing.T) {
	dir := t.TempDir()
	k := testenv.StartKafka(t, 2)
	hub, got := startStage(t, dir, nil, []string{"hub", "--data-dir", dir, "--nats", "127.0.0.1:0", "--leafnodes", "127.0.0.1:0",
		"--monitor", "127.0.0.1:0", "--ops", "127.0.0.1:0"},
		`stages connect to (nats://\S+)`, `leaf clusters connect to (\S+)`, `hub: monitoring on (\S+)/varz`, `hub: metrics on (\S+)`)
	natsURL, leafRemote, hubMonitor := got[0], got[1], got[2]
	stages := []stageProc{{"hub", hub, got[3]}}
	if out, err := runCLI(t, "match", "create", "--nats", natsURL, "--id", "m1", "--live"); err != nil {
		t.Fatalf("match create: %v\n%s", err, out)
	}
	leafAuth := filepath.Join(dir, "leaf-auth")
	leaf, got := startStage(t, dir, nil, []string{"leaf", "--remote", leafRemote, "--ws", "127.0.0.1:0", "--monitor", "127.0.0.1:0",
		"--nats-auth-dir", leafAuth, "--ops", "127.0.0.1:0"}, `edges connect to (\S+)`, `leaf: monitoring on (\S+)/varz`, `leaf: metrics on (\S+)`)
	leafUpstream, leafMonitor := got[0], got[1]
	stages = append(stages, stageProc{"leaf", leaf, got[2]})
	ingest, got := startStage(t, dir, nil, []string{"ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0",
		"--kafka-brokers", k.Addr(), "--nats", natsURL}, `ingest listening on (http://\S+)`, `\(ops: (http://\S+)\)`)
	ingestURL := got[0]
	stages = append(stages, stageProc{"ingest", ingest, got[1] + "/metrics"})
	for _, args := range [][]string{{"bridge", "--nats", natsURL, "--kafka-brokers", k.Addr()},
		{"processor", "--nats", natsURL, "--kafka-brokers", k.Addr()},
		{"edge", "--nats", leafUpstream, "--nats-user", "edge", "--nats-password-file", filepath.Join(leafAuth, edgePasswordFile),
			"--js-domain", "hub", "--listen", "127.0.0.1:0"}} {
		c, got := startStage(t, dir, nil, append(args, "--ops", "127.0.0.1:0"), args[0]+`: metrics on (\S+)`)
		stages = append(stages, stageProc{args[0], c, got[0]})
	}
	// up with what ingest alone above leaves off: bearer tokens and the
	// admin API, whose metrics exist only then.
	upDir := t.TempDir()
	secret, token := filepath.Join(upDir, "jwt.secret"), filepath.Join(upDir, "admin.token")
	for _, f := range []string{secret, token} {
		if err := os.WriteFile(f, []byte(strings.Repeat("s", 40)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	up, got := startStage(t, upDir, nil, append(upIn(upDir), "--auth", "jwt", "--jwt-secret-file", secret, "--admin-token-file", token),
		`\(metrics: (http://\S+)\)`)
	stages = append(stages, stageProc{"up", up, got[0]})

	sendUntilSwarm(t, ingestURL, stages[4].metrics)
	all := map[string]string{} // every stage's metric families and their types
	for _, s := range stages {
		got := scrape(t, s.metrics)
		own := map[string]string{"ingest": "emostream_registry_matches", "hub": "emostream_panics_total",
			"leaf": "emostream_panics_total", "up": "emostream_edge_connections"}[s.name]
		if own == "" {
			own = "emostream_" + s.name + "_"
		}
		for _, want := range []string{"process_cpu_seconds_total", "process_open_fds", "go_goroutines", "emostream_panics_total", own} {
			if !slices.ContainsFunc(slices.Collect(maps.Keys(got)), func(n string) bool { return strings.HasPrefix(n, want) }) {
				t.Errorf("%s alone serves no %s at %s", s.name, want, s.metrics)
			}
		}
		maps.Copy(all, got)
		t.Logf("%s: %d metric families", s.name, len(got))
	}
	hubVarz, leafVarz := varz(t, hubMonitor), varz(t, leafMonitor)
	inVarz := func(field string) bool { _, h := hubVarz[field]; _, l := leafVarz[field]; return h || l }
	docMetrics, docFields := alertMetrics(t)
	t.Logf("checked: %d dashboard metrics, %d alert metrics, %d alert /varz fields", len(dashboardMetrics(t)), len(docMetrics), len(docFields))
	for _, list := range []struct {
		where string
		names []string
	}{{"deploy/grafana/emostream.json", dashboardMetrics(t)}, {"docs/metrics.md's alerts", docMetrics}} {
		for _, n := range list.names {
			if field, ok := strings.CutPrefix(n, "gnatsd_varz_"); ok {
				if !inVarz(field) {
					t.Errorf("%s queries %s: no field %q in the hub's or the leaf's /varz", list.where, n, field)
				}
				continue
			}
			if !exported(all, n) {
				t.Errorf("%s names %s: no stage serves it", list.where, n)
			}
		}
	}
	for _, f := range docFields {
		if !inVarz(f) {
			t.Errorf("docs/metrics.md alerts on /varz field %q: neither the hub's nor the leaf's /varz has it", f)
		}
	}
}

// sendUntilSwarm sends reactions to match m1 through ingest (and one
// refused request) until the processor (its /metrics at processorMetrics)
// published a swarm: every stage on the way has then counted something.
func sendUntilSwarm(t *testing.T, ingestURL, processorMetrics string) {
	t.Helper()
	post := func(body string) int {
		res, err := http.Post(ingestURL+"/v1/emojis", "application/json", strings.NewReader(body))
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(`{"user_id":`); code != http.StatusBadRequest {
		t.Fatalf("a malformed request: %d, want 400", code)
	}
	testenv.WaitFor(t, time.Minute, "a swarm published by the processor", func() bool {
		post(`{"user_id":"u1","match_id":"m1","emoji_type":"🔥"}`)
		return counter(t, processorMetrics, "emostream_processor_swarms_published_total") > 0
	})
}

// counter is the value of an unlabelled counter at a /metrics URL, 0 if
// it is not there.
func counter(t *testing.T, url, name string) float64 {
	res, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
