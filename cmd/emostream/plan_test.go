package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// emostream plan prints the plan and its steps; bad flags are refused
// naming the flag, and --check compares a run's file.
func TestPlanCommand(t *testing.T) {
	out, err := runCLI(t, "plan", "--viewers", "5e6", "--reactions", "1e5", "--steps", "2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Plan for 5,000,000 viewers and 100,000 reactions/s", "| edges |", "| 500,000 | 10,000 |", "| 5,000,000 | 100,000 |", "**total**"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--viewers", "0"}, "--viewers 0: want 1 to 1e+10"},
		{[]string{"--viewers", "-5"}, "--viewers -5: want 1 to 1e+10"},
		{[]string{"--regions", "0"}, "--regions 0: want a positive value"},
		{[]string{"--reactions", "-1"}, "--reactions -1: want 0 to 1e+09"},
		{[]string{"--reactions", "2e9", "--viewers", "1e10"}, "--reactions 2e+09: want 0 to 1e+09"},
		{[]string{"--regions", "-2"}, "--regions -2: want a positive value"},
		{[]string{"--batch", "0"}, "--batch 0: want a positive value"},
		{[]string{"--batch", "5000"}, "--batch 5000: want 1 to 1000"},
		{[]string{"--viewers", "NaN"}, "--viewers NaN: want 1 to 1e+10"},
		{[]string{"--viewers", "+Inf"}, "--viewers +Inf: want 1 to 1e+10"},
		{[]string{"--viewers", "2e10"}, "--viewers 2e+10: want 1 to 1e+10"},
		{[]string{"--viewers", "0.5"}, "--viewers 0.5: want a whole number"},
		{[]string{"--reactions", "NaN"}, "--reactions NaN: want 0 to 1e+09"},
		{[]string{"--regions", "1001"}, "--regions 1001: want 1 to 1000"},
		{[]string{"--matches", "10001"}, "--matches 10001: want 1 to 10000"},
		{[]string{"--steps", "7"}, "--steps 7: want 0 to 6"},
		{[]string{"--video-spread", "61s"}, "--video-spread 1m1s: want 0s to 1m0s"},
		{[]string{"--video-spread", "-1s"}, "--video-spread -1s"},
		// More regions than viewers: a region of no viewers is no region.
		{[]string{"--viewers", "3", "--regions", "5", "--reactions", "0"}, "--regions 5: want at most one a viewer (3 viewers)"},
		// More reactions than the viewers may send at ingest's per-user rate.
		{[]string{"--viewers", "1000", "--reactions", "1e6"}, "--reactions 1e+06: want at most 20,000 a second for 1,000 viewers: 20 a viewer"},
		{[]string{"--check", filepath.Join(t.TempDir(), "none")}, "--check"},
		// Viewers and reactions are counted: a fraction of one is refused,
		// not rounded into the plan's header and its regions.
		{[]string{"--viewers", "1.5", "--reactions", "0"}, "--viewers 1.5: want a whole number"},
		{[]string{"--viewers", "9999999999.5"}, "--viewers 9.9999999995e+09: want a whole number"},
		{[]string{"--viewers", "10", "--reactions", "0.5"}, "--reactions 0.5: want a whole number"},
		{[]string{"--viewers", "1e-300"}, "--viewers 1e-300: want a whole number"},
		// Hostile figures: refused by the bounds, or by the parser naming
		// the flag.
		{[]string{"--viewers", "1e300"}, "--viewers 1e+300: want 1 to 1e+10"},
		{[]string{"--viewers", "9e18"}, "--viewers 9e+18: want 1 to 1e+10"},
		{[]string{"--viewers", "-0"}, "--viewers -0: want 1 to 1e+10"},
		{[]string{"--viewers", "-Inf"}, "--viewers -Inf: want 1 to 1e+10"},
		{[]string{"--reactions", "+Inf"}, "--reactions +Inf: want 0 to 1e+09"},
		{[]string{"--regions", "-0"}, "--regions 0: want a positive value"},
		{[]string{"--regions", "9223372036854775807"}, "--regions 9223372036854775807: want 1 to 1000"},
		{[]string{"--regions", "9223372036854775808"}, `invalid value "9223372036854775808" for flag -regions`},
		{[]string{"--regions", "1.5"}, `invalid value "1.5" for flag -regions`},
		{[]string{"--matches", "-0"}, "--matches 0: want a positive value"},
		{[]string{"--batch", "NaN"}, "--batch NaN: want a positive value"},
		{[]string{"--batch", "Inf"}, "--batch +Inf: want 1 to 1000"},
		{[]string{"--steps", "-1"}, "--steps -1: want 0 to 6"},
		{[]string{"--steps", "9e18"}, `invalid value "9e18" for flag -steps`},
		{[]string{"--viewers", "10k"}, `invalid value "10k" for flag -viewers`},
		{[]string{"--viewers", " 10"}, `invalid value " 10" for flag -viewers`},
		{[]string{"--reactions", "1e5 "}, `invalid value "1e5 " for flag -reactions`},
		{[]string{"--video-spread", "1e300h"}, `invalid value "1e300h" for flag -video-spread`},
	} {
		if _, err := runCLI(t, append([]string{"plan"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("plan %v: got %v, want %q", tt.args, err, tt.want)
		}
	}
	// The steps end at the load itself: at the bounds of the model and
	// under ten viewers, where scaling down and up again in floating point
	// passed them.
	for _, args := range [][]string{{"--viewers", "1e10", "--steps", "6"}, {"--viewers", "1", "--reactions", "1", "--regions", "1"}} {
		if out, err := runCLI(t, append([]string{"plan"}, args...)...); err != nil || !strings.Contains(out, "at 10× on this deployment") {
			t.Errorf("plan %v: %v\n%s", args, err, out)
		}
	}
	// A mean of events per request may be a fraction.
	if out, err := runCLI(t, "plan", "--batch", "1.5", "--steps", "0"); err != nil || !strings.Contains(out, "1.5 events per request") {
		t.Errorf("plan --batch 1.5: %v\n%s", err, out)
	}
	// Without --regions, fewer viewers than the default regions get one
	// region each instead of an error about a flag they did not give.
	if out, err := runCLI(t, "plan", "--viewers", "3", "--reactions", "0", "--steps", "0"); err != nil || !strings.Contains(out, "3 regions") {
		t.Errorf("plan --viewers 3: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "plan", "--viewers", "5e6", "--reactions", "1e5", "--video-spread", "30s", "--steps", "0"); err != nil ||
		!strings.Contains(out, "viewers' video up to 30s behind live") || !strings.Contains(out, "its video_windows (15 windows of program time)") {
		t.Errorf("--video-spread 30s: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "check.txt")
	os.WriteFile(file, []byte("viewers 1000\nreactions 10\nbatch 1\nmatches 1\nleaves 1\nedges 1\npartitions 1\ntier edge 1 0.01 25\n"), 0o600)
	if out, err := runCLI(t, "plan", "--check", file); err != nil || !strings.Contains(out, "| edge | 1 |") {
		t.Errorf("--check: %v\n%s", err, out)
	}
}
