package capacity

import (
	"bytes"
	"strings"
	"testing"
)

const sampleCheck = `# check, phase b20-r50000
viewers 100000
reactions 50000
batch 20
matches 4
leaves 3
edges 6
partitions 12
record_bytes 135
produces 1500
tier ingest 1 0.2 40
tier edge 6 0.5 400
`

// A run's file is read whole; every bad line is refused with its number.
func TestReadCheck(t *testing.T) {
	s, ms, err := ReadCheck(strings.NewReader(sampleCheck))
	if err != nil {
		t.Fatal(err)
	}
	want := Small{Viewers: 100000, Reactions: 50000, Batch: 20, Matches: 4, Leaves: 3, Edges: 6, Partitions: 12, RecordBytes: 135, Produces: 1500}
	if s != want || len(ms) != 2 || ms[1] != (Measured{"edge", 6, 0.5, 400}) {
		t.Errorf("got %+v %+v", s, ms)
	}
	for _, bad := range []string{
		"viewers x", "viewers -1", "viewers 1e13", "viewers NaN", "viewers +Inf", "colour 3", "viewers", "viewers 1 2",
		"tier ingest 1 0.2", "tier ingest one 0.2 40", "tier ingest 1 0.2 40 9",
	} {
		if _, _, err := ReadCheck(strings.NewReader(sampleCheck + bad + "\n")); err == nil || !strings.Contains(err.Error(), "line 13") {
			t.Errorf("%q: got %v, want an error naming line 13", bad, err)
		}
	}
	if _, _, err := ReadCheck(strings.NewReader("viewers 10\n")); err == nil {
		t.Error("a file without the deployment or tiers was taken")
	}
}

// The prediction follows the model: each tier's variable part grows with
// its driver, and the table names every measured tier with its
// difference.
func TestPredictAndWrite(t *testing.T) {
	s, ms, _ := ReadCheck(strings.NewReader(sampleCheck))
	p := Predict(s)
	more := s
	more.Viewers, more.Reactions, more.Produces = 2*s.Viewers, 2*s.Reactions, 2*s.Produces
	q := Predict(more)
	for i := range p {
		if q[i].Cores < p[i].Cores {
			t.Errorf("%s: twice the load predicts less CPU", p[i].Tier)
		}
	}
	if got, want := q[6].RSSMiB-p[6].RSSMiB, s.Viewers*EdgeRSSPerViewerKiB/1024; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("edge RSS grows %v MiB for %v more viewers, want %v", got, s.Viewers, want)
	}
	var b bytes.Buffer
	WriteCheck(&b, s, ms)
	out := b.String()
	for _, want := range []string{"| ingest | 1 |", "| edge | 6 |", "100,000 viewers on 6 edges and 3 leaves"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "| kafka |") {
		t.Error("a tier that was not measured is in the table")
	}
}

// Whatever the file holds, ReadCheck and WriteCheck neither panic nor
// accept a deployment without its counts.
func FuzzReadCheck(f *testing.F) {
	f.Add(sampleCheck)
	f.Add("")
	f.Add("viewers 9999999999999\ntier a 1 1e12 1e12\n")
	f.Add(strings.Repeat("tier x 0 0 0\n", 100))
	f.Fuzz(func(t *testing.T, in string) {
		s, ms, err := ReadCheck(strings.NewReader(in))
		if err != nil {
			return
		}
		if s.Viewers < 1 || s.Edges < 1 || s.Leaves < 1 || s.Batch < 1 || len(ms) == 0 {
			t.Fatalf("accepted %+v", s)
		}
		WriteCheck(new(bytes.Buffer), s, ms)
	})
}
