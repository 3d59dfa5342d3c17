package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/emostream/emostream/capacity"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "plan", summary: "capacity plan: machines, partitions, bandwidth and cost for a load (docs/capacity.md)", run: runPlan})
}

const planSynopsis = `Prints the capacity plan for a peak load, from the unit costs measured on the
project's machine and the assumptions of docs/capacity.md (package capacity):
machines per tier, Kafka partitions, leaf clusters and edges per region, bytes
per hop per window, the cost per hour at list prices, then a table of tenfold
steps up to the load with the tier each step's deployment fills first at ten
times its load. With --check FILE it prints instead the model's CPU and
memory per tier against what scripts/capacity-check.sh measured (FILE).`

// Defaults of emostream plan: the worked case of docs/capacity.md.
const (
	defaultPlanViewers   = 50_000_000
	defaultPlanReactions = 1_000_000
	defaultPlanSteps     = 4
	maxPlanSteps         = 6
)

// planFlags are the flags of "emostream plan".
type planFlags struct {
	load  capacity.Load
	steps int
	check string
}

func addPlanFlags(fs *flag.FlagSet) *planFlags {
	f := &planFlags{}
	fs.Float64Var(&f.load.Viewers, "viewers", defaultPlanViewers, "concurrent viewers at peak, a whole number")
	fs.Float64Var(&f.load.Reactions, "reactions", defaultPlanReactions, fmt.Sprintf("reactions accepted per second at peak, a whole number, at most %d a viewer (ingest's --user-rate)", capacity.UserRate))
	fs.IntVar(&f.load.Regions, "regions", capacity.DefaultRegions, fmt.Sprintf("regions with their own leaf clusters and edges (viewers split evenly), at most one a viewer (by default one a viewer under %d viewers)", capacity.DefaultRegions))
	fs.IntVar(&f.load.Matches, "matches", capacity.DefaultMatches, "matches live at once")
	fs.Float64Var(&f.load.Batch, "batch", capacity.DefaultBatch, "mean events per ingest request (browsers: about 1)")
	fs.DurationVar(&f.load.VideoSpread, "video-spread", 0, "how far behind live the viewers' video clocks are spread (reactions with video_ts): each window of it adds a program-time window to every swarm; 0 for live viewers only, at most "+wire.MaxVideoLag.String())
	fs.IntVar(&f.steps, "steps", defaultPlanSteps, fmt.Sprintf("tenfold steps in the table, ending at the load (0 to %d)", maxPlanSteps))
	fs.StringVar(&f.check, "check", "", "compare the model with a run of scripts/capacity-check.sh: the file it wrote")
	return f
}

func runPlan(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "plan", planSynopsis)
	f := addPlanFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if f.check != "" {
		return planCheck(env, f.check)
	}
	if err := f.validate(fs); err != nil {
		return err
	}
	if !given(fs)["regions"] && f.load.Viewers >= 1 && f.load.Viewers < float64(f.load.Regions) {
		f.load.Regions = int(f.load.Viewers) // the default never asks for regions of no viewers
	}
	loadFlags := settingFlags{capacity.ErrLoad, boundFlags(fs, &f.load, nil)}
	p, err := capacity.NewPlan(f.load)
	if err != nil {
		return flagError(err, loadFlags)
	}
	capacity.WritePlan(env.stdout, p)
	if f.steps == 0 {
		return nil
	}
	steps, err := capacity.StepsTo(f.load, f.steps)
	if err != nil {
		return flagError(err, loadFlags)
	}
	fmt.Fprintln(env.stdout)
	capacity.WriteSteps(env.stdout, steps)
	return nil
}

// validate refuses an explicit 0 or less where the library reads 0 as its
// default, a fraction of a viewer or of a reaction, and steps out of
// range; the model checks the rest, the one place the bounds are
// (capacity.ErrLoad: viewers and reactions within theirs, at least one
// viewer a region, no more reactions than the viewers may send), and
// flagError names the flag. The model itself reckons loads in float64:
// its steps divide one by powers of ten.
func (f *planFlags) validate(fs *flag.FlagSet) error {
	if err := checkPositive(fs, "regions", "matches", "batch"); err != nil {
		return err
	}
	for _, n := range []string{"viewers", "reactions"} {
		v := fs.Lookup(n).Value
		if x := v.(flag.Getter).Get().(float64); x != math.Trunc(x) && !math.IsNaN(x) {
			return fmt.Errorf("--%s %s: want a whole number", n, v)
		}
	}
	if f.steps < 0 || f.steps > maxPlanSteps {
		return fmt.Errorf("--steps %d: want 0 to %d", f.steps, maxPlanSteps)
	}
	return nil
}

// planCheck prints predicted against measured for the run in name.
func planCheck(env *environment, name string) error {
	file, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("--check: %w", err)
	}
	defer file.Close()
	s, measured, err := capacity.ReadCheck(file)
	if err != nil {
		return fmt.Errorf("--check %s: %w", name, err)
	}
	if len(measured) == 0 {
		return errors.New("--check: no tiers measured")
	}
	capacity.WriteCheck(env.stdout, s, measured)
	return nil
}
