package registry

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Snapshot is the registry's copy at one bucket revision: every match the
// bucket held once its message of sequence Revision was stored. It is
// never changed after it is made, so readers share it without locks.
type Snapshot struct {
	rev     uint64
	matches map[string]Match
	counts  [2][3]int     // [origin][state]: operator/auto × live/scheduled/ended
	next    chan struct{} // closed once a newer snapshot replaces this one

	sortOnce sync.Once
	sorted   []Match
}

func newSnapshot(rev uint64, ms map[string]Match) *Snapshot {
	s := &Snapshot{rev: rev, matches: ms, next: make(chan struct{})}
	for _, m := range ms {
		s.counts[originIndex(m.Auto)][stateIndex(m.State)]++
	}
	return s
}

// Revision is the bucket revision (stream sequence) the snapshot is at.
func (s *Snapshot) Revision() uint64 { return s.rev }

// Len is the number of matches.
func (s *Snapshot) Len() int { return len(s.matches) }

// Lookup returns match id.
func (s *Snapshot) Lookup(id string) (Match, bool) {
	m, ok := s.matches[id]
	return m, ok
}

// Count is the number of matches of one origin (auto-admitted or
// operator-created) in state st; every state when st is empty.
func (s *Snapshot) Count(auto bool, st State) int {
	c := s.counts[originIndex(auto)]
	if st == "" {
		return c[0] + c[1] + c[2]
	}
	return c[stateIndex(st)]
}

// Changed is closed once a newer snapshot replaced this one.
func (s *Snapshot) Changed() <-chan struct{} { return s.next }

// Sorted is every match in listing order (Position.Compare), sorted once
// per snapshot. The slice is shared: callers must not change it.
func (s *Snapshot) Sorted() []Match {
	s.sortOnce.Do(func() {
		s.sorted = make([]Match, 0, len(s.matches))
		for _, m := range s.matches {
			s.sorted = append(s.sorted, m)
		}
		sortMatches(s.sorted)
	})
	return s.sorted
}

// with is the snapshot with m added at revision rev.
func (s *Snapshot) with(m Match, rev uint64) *Snapshot {
	ms := make(map[string]Match, len(s.matches)+1)
	for id, x := range s.matches {
		ms[id] = x
	}
	ms[m.ID] = m
	return newSnapshot(rev, ms)
}

func originIndex(auto bool) int {
	if auto {
		return 1
	}
	return 0
}

// stateIndex is the state's rank in the listing order.
func stateIndex(st State) int {
	switch st {
	case Live:
		return 0
	case Scheduled:
		return 1
	}
	return 2
}

// Position is a match's place in the listing order of GET /v1/matches and
// "match ls": operator-created matches before auto-admitted ones; within
// each, live, then scheduled, then ended; then by planned start (none
// first); then by ID. A page's cursor is the position of its last match.
type Position struct {
	Auto    bool
	State   State
	Planned time.Time
	ID      string
}

// Position is m's place in the listing order.
func (m Match) Position() Position {
	p := Position{Auto: m.Auto, State: m.State, ID: m.ID}
	if m.PlannedStart != nil {
		p.Planned = *m.PlannedStart
	}
	return p
}

// Compare is -1 if p comes before q in the listing order, +1 if after,
// 0 if they are the same place.
func (p Position) Compare(q Position) int {
	if c := cmp.Compare(originIndex(p.Auto), originIndex(q.Auto)); c != 0 {
		return c
	}
	if c := cmp.Compare(stateIndex(p.State), stateIndex(q.State)); c != 0 {
		return c
	}
	if c := p.Planned.Compare(q.Planned); c != 0 {
		return c
	}
	return cmp.Compare(p.ID, q.ID)
}

// sortMatches sorts ms in listing order.
func sortMatches(ms []Match) {
	slices.SortFunc(ms, func(a, b Match) int { return a.Position().Compare(b.Position()) })
}
