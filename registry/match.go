package registry

import (
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emostream/emostream/wire"
)

// State is where a match is in its life: scheduled → live → ended.
type State string

// The states of a match.
const (
	Scheduled State = "scheduled"
	Live      State = "live"
	Ended     State = "ended"
)

// Limits of a match's metadata, so a value always fits the bucket's
// MaxValueSize.
const (
	MaxTitle = 200 // bytes
	MaxTeam  = 100 // bytes
)

// Errors of the registry. Ingest maps them onto client codes.
var (
	ErrUnknownMatch = errors.New("registry: unknown match")
	ErrNotLive      = errors.New("registry: match is not live")
	ErrExists       = errors.New("registry: match already exists")
	ErrTransition   = errors.New("registry: invalid state change")
	ErrInvalid      = errors.New("registry: invalid match")
	ErrFull         = errors.New("registry: registry full")
	ErrNotReady     = errors.New("registry: not loaded yet")
)

// Match is one match of the registry, stored as JSON under its ID.
type Match struct {
	ID           string     `json:"id"`
	State        State      `json:"state"`
	Title        string     `json:"title,omitempty"`
	Home         string     `json:"home,omitempty"`
	Away         string     `json:"away,omitempty"`
	PlannedStart *time.Time `json:"planned_start,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	// Auto marks a match admitted by the development mode AutoMatches, not
	// declared by an operator: it counts against AutoMatches, not
	// MaxMatches, ends after AutoMatchIdle without reactions and is removed
	// AutoMatchRetention after it ended.
	Auto bool `json:"auto,omitempty"`
	// LastActive, of an auto-admitted match, is when an ingest last
	// admitted reactions to it, written at most every AutoMatchIdle/4.
	LastActive *time.Time `json:"last_active,omitempty"`
}

// active is the last sign of life of m: created, started or admitted.
func (m Match) active() time.Time {
	t := m.CreatedAt
	for _, u := range []*time.Time{m.StartedAt, m.LastActive} {
		if u != nil && u.After(t) {
			t = *u
		}
	}
	return t
}

// Validate checks the match's ID, state and metadata.
func (m *Match) Validate() error {
	switch idErr := wire.CheckMatchID(m.ID); {
	case idErr != nil:
		return fmt.Errorf("%w: id %w", ErrInvalid, idErr)
	case m.State != Scheduled && m.State != Live && m.State != Ended:
		return fmt.Errorf("%w: state %q: want scheduled, live or ended", ErrInvalid, m.State)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"title", m.Title, MaxTitle}, {"home", m.Home, MaxTeam}, {"away", m.Away, MaxTeam}} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return nil
}

// checkText refuses text that is too long, not UTF-8, or has control
// characters.
func checkText(name, v string, limit int) error {
	if len(v) > limit {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrInvalid, name, len(v), limit)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s has a control character", ErrInvalid, name)
		}
	}
	return nil
}

// to returns the match moved to state next at now, or ErrTransition: a
// match goes scheduled → live → ended, and may end without going live.
func (m Match) to(next State, now time.Time) (Match, error) {
	ok := m.State == Scheduled && (next == Live || next == Ended) || m.State == Live && next == Ended
	if !ok {
		return m, fmt.Errorf("%w: %s is %s, cannot become %s", ErrTransition, m.ID, m.State, next)
	}
	m.State = next
	t := now.UTC()
	if next == Live {
		m.StartedAt = &t
	} else {
		m.EndedAt = &t
	}
	return m, nil
}
