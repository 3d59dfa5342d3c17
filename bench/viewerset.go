package bench

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// viewerSet is a group of viewers in this process or in a child process.
type viewerSet interface {
	finish(ctx context.Context, f finishMsg) (ViewerReport, error)
	close()
}

var (
	_ viewerSet = (*viewerGroup)(nil)
	_ viewerSet = (*viewerProc)(nil)
)

// startViewerSets starts cfg.Viewers viewers: in this process when there
// is no ViewerCommand or few viewers, else in child processes of up to
// cfg.ViewersPerProcess each. It returns the sets and the number of
// child processes.
func startViewerSets(ctx context.Context, cfg Config, urls []string) ([]viewerSet, int, error) {
	if cfg.ViewerCommand == nil || cfg.Viewers <= MaxInProcessViewers {
		g, err := startViewers(urls, cfg.Viewers)
		if err != nil {
			return nil, 0, err
		}
		return []viewerSet{g}, 0, nil
	}
	var sets []viewerSet
	for left := cfg.Viewers; left > 0; left -= cfg.ViewersPerProcess {
		p, err := startViewerProc(ctx, cfg.ViewerCommand, urls, min(left, cfg.ViewersPerProcess))
		if err != nil {
			closeSets(sets)
			return nil, 0, err
		}
		sets = append(sets, p)
	}
	return sets, len(sets), nil
}

// finishSets finishes every set at once and merges their reports.
func finishSets(ctx context.Context, sets []viewerSet, f finishMsg) (ViewerReport, error) {
	reports := make([]ViewerReport, len(sets))
	var g errgroup.Group
	for i, s := range sets {
		g.Go(func() (err error) {
			reports[i], err = s.finish(ctx, f)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return ViewerReport{}, fmt.Errorf("bench: viewers: %w", err)
	}
	var all ViewerReport
	for _, r := range reports {
		all = all.merge(r)
	}
	return all, nil
}

func closeSets(sets []viewerSet) {
	for _, s := range sets {
		s.close()
	}
}
