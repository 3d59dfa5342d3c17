package processor

import (
	"container/list"
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// loadParallel is how many match states are read from the swarm stream at
// once when a window needs several.
const loadParallel = 16

// stateCache holds a session's match states, at most max of them, the
// least recently used dropped first. Each is what the swarm stream held for
// its match when it was read or stored, so a dropped state is only read
// again when needed: the stream is the source of truth.
type stateCache struct {
	max     int
	lru     *list.List // of *cachedState, most recently used in front
	byMatch map[string]*list.Element
	evicted int64
}

type cachedState struct {
	match string
	st    *matchState
}

func newStateCache(max int) *stateCache {
	return &stateCache{max: max, lru: list.New(), byMatch: map[string]*list.Element{}}
}

// get returns match's state, if cached.
func (c *stateCache) get(match string) (*matchState, bool) {
	e, ok := c.byMatch[match]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cachedState).st, true
}

// put caches match's state, dropping the least recently used beyond max.
func (c *stateCache) put(match string, st *matchState) {
	if e, ok := c.byMatch[match]; ok {
		e.Value.(*cachedState).st = st
		c.lru.MoveToFront(e)
		return
	}
	c.byMatch[match] = c.lru.PushFront(&cachedState{match: match, st: st})
	for c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*cachedState)
		delete(c.byMatch, old.match)
		c.evicted++
	}
}

func (c *stateCache) len() int { return c.lru.Len() }

// state is what this processor knows of match's last swarm, read from the
// stream the first time the session needs it.
func (p *Processor) state(ctx context.Context, match string) (*matchState, error) {
	if st, ok := p.s.states.get(match); ok {
		return st, nil
	}
	return p.resync(ctx, match)
}

// cache stores match's state and updates the cache's metrics.
func (p *Processor) cache(match string, st *matchState) {
	c := p.s.states
	before := c.evicted
	c.put(match, st)
	p.met.stateEvictions.Add(float64(c.evicted - before))
	p.met.states.Set(float64(c.len()))
}

// prefetch reads, loadParallel at a time, the states of those of matches
// (at most the cache's size) that are not cached, so a window with many
// new matches does not wait for one read after the other.
func (p *Processor) prefetch(ctx context.Context, matches []string) error {
	var missing []string
	for _, m := range matches {
		if _, ok := p.s.states.byMatch[m]; !ok && len(missing) < p.s.states.max {
			missing = append(missing, m)
		}
	}
	if len(missing) < 2 {
		return nil
	}
	loaded := make([]*matchState, len(missing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadParallel)
	for i, m := range missing {
		g.Go(func() error {
			st, err := p.store.load(gctx, m)
			loaded[i] = st
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	for i, m := range missing {
		p.cache(m, loaded[i])
	}
	p.met.stateLoads.Add(float64(len(missing)))
	return nil
}
