package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/wire"
)

// natsConsumerCommand is a NATS CLI command of the docs that names a
// stream's consumer.
var natsConsumerCommand = regexp.MustCompile(`(?m)^nats consumer (?:info|next|report|sub) (\S+) (\S+)`)

// TestDocsConsumerNames: an operator who pastes a docs' nats consumer
// command names the consumer the processor really uses
// (processor.DefaultConsumer, which no flag changes) on its stream.
func TestDocsConsumerNames(t *testing.T) {
	files, _ := filepath.Glob("../docs/*.md")
	n := 0
	for _, f := range append(files, "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range natsConsumerCommand.FindAllStringSubmatch(string(b), -1) {
			n++
			if m[1] != wire.PartialsStream || m[2] != processor.DefaultConsumer {
				t.Errorf("%s: %q: the processor's consumer is %s on %s", f, m[0], processor.DefaultConsumer, wire.PartialsStream)
			}
		}
	}
	if n == 0 {
		t.Error("no nats consumer command in the docs: docs/operations.md shows one for the read-only user monitor")
	}
}
