package setting_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
)

var errConfig = errors.New("stage: invalid config")

type mode string

func TestFirst(t *testing.T) {
	tests := []struct {
		name  string
		rules []setting.Rule
		want  string // "" for nil
	}{
		{"none", nil, ""},
		{"all hold", []setting.Rule{setting.AtLeast("A", 1, 0), setting.AtMost("B", 2, 2), setting.Between("C", 3, 1, 3),
			setting.Above("D", time.Second, 0), setting.Check("E", "x", true, "want x"), setting.Err("F", 1, nil)}, ""},
		{"at least", []setting.Rule{setting.AtLeast("BodyLimit", -1, 0)}, "BodyLimit -1: want at least 0"},
		{"at most", []setting.Rule{setting.AtMost("DedupPerUser", 70000, 65535)}, "DedupPerUser 70000: want at most 65535"},
		{"above, a duration", []setting.Rule{setting.Above("Heartbeat", time.Duration(0), 0)}, "Heartbeat 0s: want more than 0s"},
		{"between", []setting.Rule{setting.Between("IPPrefixV4", 33, 1, 32)}, "IPPrefixV4 33: want 1 to 32"},
		{"finite", []setting.Rule{setting.Finite("A", 1e308), setting.Finite("UserRate", math.Inf(1))}, "UserRate +Inf: want a finite number"},
		{"not a number", []setting.Rule{setting.Finite("IPRate", math.NaN())}, "IPRate NaN: want a finite number"},
		{"a string is quoted", []setting.Rule{setting.Check("Ack", "maybe", false, "want all or buffered")}, `Ack "maybe": want all or buffered`},
		{"a named string too", []setting.Rule{setting.Check("Ack", mode("a b"), false, "want all")}, `Ack "a b": want all`},
		{"text is not", []setting.Rule{setting.Check("AdminToken", setting.Text("(3 bytes)"), false, "want at least 32 bytes")}, "AdminToken (3 bytes): want at least 32 bytes"},
		{"no value", []setting.Rule{setting.Check("Listener", nil, false, "want a bound listener")}, "Listener: want a bound listener"},
		{"an error", []setting.Rule{setting.Err("KafkaSecurity", nil, errors.New("SASL plain needs TLS"))}, "KafkaSecurity: SASL plain needs TLS"},
		{"nested", setting.Under("Moments", setting.AtLeast("Factor", 0.5, 1.0)), "Moments.Factor 0.5: want at least 1"},
		{"the first broken one", []setting.Rule{setting.AtLeast("A", 1, 0), setting.AtLeast("B", -1, 0), setting.AtLeast("C", -1, 0)}, "B -1: want at least 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := setting.First(errConfig, tt.rules...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var se *setting.Error
			if !errors.Is(err, errConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a *setting.Error wrapped in the sentinel", err)
			}
			if got := se.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got, want := err.Error(), "stage: invalid config: "+tt.want; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// An Err rule's error stays visible to errors.Is.
func TestErrUnwraps(t *testing.T) {
	errTLS := errors.New("kafkaconn: invalid Kafka security")
	err := setting.First(errConfig, setting.Err("KafkaSecurity", nil, fmt.Errorf("%w: SASL plain needs TLS", errTLS)))
	if !errors.Is(err, errConfig) || !errors.Is(err, errTLS) {
		t.Fatalf("%v: want both the sentinel and the cause", err)
	}
}

// A rule Wrapping a sentinel keeps its own message.
func TestWrapping(t *testing.T) {
	errNoRemotes := errors.New("fanout: a leaf needs at least one remote")
	err := setting.First(errConfig, setting.Check("Remotes", nil, false, "want at least one").Wrapping(errNoRemotes))
	if !errors.Is(err, errConfig) || !errors.Is(err, errNoRemotes) || err.Error() != "stage: invalid config: Remotes: want at least one" {
		t.Fatalf("%v: want both sentinels and the rule's message", err)
	}
}

func ExampleFirst() {
	errConfig := errors.New("ingest: invalid config")
	bodyLimit, ack := -1, "all"
	err := setting.First(errConfig,
		setting.Check("Ack", ack, ack == "all" || ack == "buffered", "want all or buffered"),
		setting.AtLeast("BodyLimit", bodyLimit, 0),
	)
	fmt.Println(err)
	var se *setting.Error
	if errors.As(err, &se) {
		fmt.Printf("setting %s, value %s\n", se.Name, se.Value)
	}
	// Output:
	// ingest: invalid config: BodyLimit -1: want at least 0
	// setting BodyLimit, value -1
}
