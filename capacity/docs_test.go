package capacity

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
)

// docsFile is the capacity plan's page; its tables are this package's
// output, between markers.
const docsFile = "../docs/capacity.md"

// between returns the text of doc between <!-- name --> and
// <!-- /name -->, trimmed.
func between(t *testing.T, doc, name string) string {
	t.Helper()
	open, closing := "<!-- "+name+" -->", "<!-- /"+name+" -->"
	i, j := strings.Index(doc, open), strings.Index(doc, closing)
	if i < 0 || j < i {
		t.Fatalf("%s: no %s … %s", docsFile, open, closing)
	}
	return strings.TrimSpace(doc[i+len(open) : j])
}

// replaceBetween puts text between doc's markers of name.
func replaceBetween(doc, name, text string) string {
	open, closing := "<!-- "+name+" -->", "<!-- /"+name+" -->"
	i, j := strings.Index(doc, open), strings.Index(doc, closing)
	return doc[:i+len(open)] + "\n" + text + "\n" + doc[j:]
}

// TestDocsEqualTheModel: docs/capacity.md shows exactly what "emostream
// plan" prints for the worked case and its steps, and what "emostream plan
// --check" prints for the runs whose measured lines it quotes. Regenerate
// with EMOSTREAM_WRITE_DOCS=1 go test ./capacity -run TestDocs.
func TestDocsEqualTheModel(t *testing.T) {
	b, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var plan, steps bytes.Buffer
	p, err := NewPlan(Load{Viewers: 50e6, Reactions: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	WritePlan(&plan, p)
	s, err := StepsTo(Load{Viewers: 50e6, Reactions: 1e6}, 4)
	if err != nil {
		t.Fatal(err)
	}
	WriteSteps(&steps, s)
	want := map[string]string{"plan": plan.String(), "steps": steps.String()}
	for _, name := range []string{"check-calibrate", "check-validate"} {
		run := strings.TrimSuffix(strings.TrimPrefix(between(t, doc, name+"-run"), "```text"), "```")
		small, measured, err := ReadCheck(strings.NewReader(run))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out bytes.Buffer
		WriteCheck(&out, small, measured)
		want[name] = out.String()
	}
	for name, w := range want {
		if got := between(t, doc, name); got != strings.TrimSpace(w) {
			if os.Getenv("EMOSTREAM_WRITE_DOCS") != "" {
				doc = replaceBetween(doc, name, strings.TrimSpace(w))
				continue
			}
			t.Errorf("%s: the %q block differs from the model's output (EMOSTREAM_WRITE_DOCS=1 rewrites it):\n%s", docsFile, name, w)
		}
	}
	if os.Getenv("EMOSTREAM_WRITE_DOCS") != "" {
		if err := os.WriteFile(docsFile, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDocsProseEqualsTheModel: the figures the prose of docs/capacity.md
// reads off plans it does not print (another resource of a tier, another
// load) are the model's.
func TestDocsProseEqualsTheModel(t *testing.T) {
	b, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(b)), " ")
	worked := Load{Viewers: 50e6, Reactions: 1e6}
	many, err := NewPlan(Load{Viewers: 5e8, Reactions: 1e7})
	if err != nil {
		t.Fatal(err)
	}
	video, err := NewPlan(Load{Viewers: 50e6, Reactions: 1e6, VideoSpread: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, refused := NewPlan(Load{Viewers: 3, Regions: 5})
	var se *setting.Error
	if !errors.As(refused, &se) {
		t.Fatalf("3 viewers in 5 regions: %v", refused)
	}
	for _, claim := range []string{
		fmt.Sprintf("at most %d reactions a second a viewer", UserRate),
		"`--regions 5: " + se.Want + "`",
		fmt.Sprintf("(%s billion viewers, a billion reactions a second, %s regions, %s matches)", group(MaxViewers/1e9), group(MaxRegions), group(MaxMatches)),
		"memory is at " + percent(resourceUtil(t, worked, "edges", "memory")) + ";",
		"`emostream plan --matches 100` puts it at " + percent(resourceUtil(t, Load{Viewers: 50e6, Reactions: 1e6, Matches: 100}, "processor", "window time")),
		fmt.Sprintf("(%d partitions) at %s", many.Deployment.Partitions, percent(many.Uses[3].Util)),
		"makes a swarm " + byteSize(float64(video.SwarmBytes)),
		"the egress " + money(video.Costs[len(video.Costs)-1].PerHour) + " an hour",
	} {
		if !strings.Contains(doc, claim) {
			t.Errorf("%s does not say %q, which the model does", docsFile, claim)
		}
	}
}

// resourceUtil is how full one resource of a tier is in l's plan.
func resourceUtil(t *testing.T, l Load, tier, resource string) float64 {
	t.Helper()
	d, err := Size(l)
	if err != nil {
		t.Fatal(err)
	}
	l, _ = l.withDefaults()
	tr := rule(tier)
	for _, nd := range tr.needs(flows(l, d), l, d) {
		if nd.resource == resource {
			return tr.use([]need{nd}, *tr.count(&d), d.Regions).Util
		}
	}
	t.Fatalf("no %s need of the %s", resource, tier)
	return 0
}
