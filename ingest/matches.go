package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// MinAdminToken is the shortest admin token accepted: long enough that
// guessing it over HTTP is hopeless.
const MinAdminToken = 16

// adminTimeout bounds one admin request's registry call.
const adminTimeout = 5 * time.Second

// Registry is what ingest needs of the match registry.
type Registry interface {
	// Admit is nil for a live match, else an error wrapping
	// registry.ErrUnknownMatch, registry.ErrNotLive or another reason.
	Admit(id string) error
	// Snapshot is the loaded copy of the registry (nil until loaded), from
	// which GET /v1/matches answers.
	Snapshot() *registry.Snapshot
	Create(ctx context.Context, m registry.Match) (registry.Match, error)
	Get(ctx context.Context, id string) (registry.Match, error)
	List(ctx context.Context) ([]registry.Match, error)
	Start(ctx context.Context, id string) (registry.Match, error)
	End(ctx context.Context, id string) (registry.Match, error)
	Remove(ctx context.Context, id string) error
}

var (
	_ Registry = (*registry.Registry)(nil)
	_ Registry = (*registry.Late)(nil) // an ingest started before the hub was reachable
)

// admit refuses a request with an event for a match that is not live. A
// refused request writes nothing. It asks the registry once per distinct
// match of the request (the first admitMemo of them; past that, once per
// run of events of one match), so a 100-event array of four matches costs
// four lookups, not a hundred, and still names the first refused event.
func (s *Server) admit(r *request) *httpError {
	if s.cfg.Matches == nil {
		return nil
	}
	var memo [admitMemo]string
	n, last := 0, ""
	for i := range r.events {
		m := r.events[i].MatchID
		if m == last || slices.Contains(memo[:n], m) {
			continue
		}
		if err := s.cfg.Matches.Admit(m); err != nil {
			return matchError(err, i)
		}
		last = m
		if n < admitMemo {
			memo[n], n = m, n+1
		}
	}
	return nil
}

// admitMemo bounds the matches admit remembers within a request, so a
// request of a thousand distinct matches costs a thousand lookups, not a
// million comparisons.
const admitMemo = 8

// matchError maps a registry error onto the client's error table.
func matchError(err error, index int) *httpError {
	msg := strings.TrimPrefix(err.Error(), "registry: ")
	switch {
	case errors.Is(err, registry.ErrUnknownMatch):
		return &httpError{code: wire.CodeUnknownMatch, index: index, msg: msg + " (matches must be created in the registry first)"}
	case errors.Is(err, registry.ErrNotLive):
		return &httpError{code: wire.CodeMatchNotLive, index: index, msg: msg + ": it takes no reactions now"}
	case errors.Is(err, registry.ErrInvalid):
		return &httpError{code: wire.CodeBadField, index: index, msg: msg}
	case errors.Is(err, registry.ErrExists), errors.Is(err, registry.ErrTransition), errors.Is(err, registry.ErrFull):
		return &httpError{code: wire.CodeConflict, index: index, msg: msg}
	}
	return &httpError{code: wire.CodeRegistryUnavailable, index: index,
		retryAfter: 1, msg: "the match registry is unavailable; nothing of this request was stored, retry later"}
}

// matchRoutes adds GET /v1/matches (matchlist.go) to the public API.
func (s *Server) matchRoutes(app *fiber.App) error {
	if s.cfg.Matches == nil {
		return nil
	}
	var err error
	if s.mlist, err = newMatchLister(&s.cfg, s.cfg.Registerer); err != nil {
		return err
	}
	app.Get("/v1/matches", s.listMatches)
	s.allowed(app, "/v1/matches", "GET, HEAD")
	return nil
}

// adminRoutes adds, with an admin token, the admin API to the ops listener.
func (s *Server) adminRoutes(app *fiber.App) {
	if s.cfg.Matches == nil || s.cfg.AdminToken == "" {
		app.All("/v1/admin", s.adminOff)
		app.All("/v1/admin/*", s.adminOff)
		return
	}
	admin := app.Group("/v1/admin", s.requireAdmin)
	admin.Get("/matches", s.adminList)
	admin.Post("/matches", s.adminCreate)
	admin.Get("/matches/:id", s.adminMatch(Registry.Get))
	admin.Delete("/matches/:id", s.adminRemove)
	admin.Post("/matches/:id/start", s.adminMatch(Registry.Start))
	admin.Post("/matches/:id/end", s.adminMatch(Registry.End))
}

// AdminOffMessage is the 404 of the admin API's paths when it is off: how
// to turn it on.
const AdminOffMessage = "the admin API is off: start ingest (or up) with --admin-token-file FILE " +
	"or EMOSTREAM_ADMIN_TOKEN, a token of at least 16 bytes (docs/matches.md, \"Operating it\")"

// AdminElsewhereMessage is the 404 of the admin API's paths on the public
// listener: the admin API is only ever on the ops listener.
const AdminElsewhereMessage = "the admin API is served on the ops listener (--ops, 127.0.0.1:9100 by default), never on the public one"

// adminOff answers the admin API's paths while it is off.
func (s *Server) adminOff(c *fiber.Ctx) error {
	return s.fail(c, wire.CodeNotFound, AdminOffMessage, -1)
}

// adminElsewhere answers the admin API's paths on the public listener.
func (s *Server) adminElsewhere(c *fiber.Ctx) error {
	return s.fail(c, wire.CodeNotFound, AdminElsewhereMessage, -1)
}

// createRequest is the body of POST /v1/admin/matches.
type createRequest struct {
	ID           string         `json:"id"`
	State        registry.State `json:"state"`
	Title        string         `json:"title,omitempty"`
	Home         string         `json:"home,omitempty"`
	Away         string         `json:"away,omitempty"`
	PlannedStart *time.Time     `json:"planned_start,omitempty"`
}

// requireAdmin lets a request through only with the admin bearer token
// (adminauth.go: compared in constant time, guesses limited per network).
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	if herr := s.checkAdmin(c); herr != nil {
		return herr.write(s, c)
	}
	return c.Next()
}

func (s *Server) adminList(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), adminTimeout)
	defer cancel()
	ms, err := s.cfg.Matches.List(ctx)
	if err != nil {
		return matchError(err, -1).write(s, c)
	}
	if ms == nil {
		ms = []registry.Match{}
	}
	return sendJSONValue(c, fiber.StatusOK, map[string]any{"matches": ms})
}

// adminCreate is POST /v1/admin/matches with {"id","title","home","away",
// "planned_start","state"}; state may be scheduled (the default) or live.
func (s *Server) adminCreate(c *fiber.Ctx) error {
	var in createRequest
	dec := json.NewDecoder(bytes.NewReader(c.Request().Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return s.fail(c, wire.CodeBadJSON, "match: "+err.Error(), -1)
	}
	if _, err := dec.Token(); err != io.EOF {
		return s.fail(c, wire.CodeBadJSON, "match: want one JSON object and nothing after it", -1)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), adminTimeout)
	defer cancel()
	m, err := s.cfg.Matches.Create(ctx, registry.Match{ID: in.ID, State: in.State, Title: in.Title,
		Home: in.Home, Away: in.Away, PlannedStart: in.PlannedStart})
	if err != nil {
		return matchError(err, -1).write(s, c)
	}
	return sendJSONValue(c, fiber.StatusCreated, m)
}

func (s *Server) adminRemove(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), adminTimeout)
	defer cancel()
	if err := s.cfg.Matches.Remove(ctx, c.Params("id")); err != nil {
		return matchError(err, -1).write(s, c)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// adminMatch is GET /v1/admin/matches/:id, or POST …/:id/start or /end:
// op on the match, which is the answer.
func (s *Server) adminMatch(op func(Registry, context.Context, string) (registry.Match, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), adminTimeout)
		defer cancel()
		m, err := op(s.cfg.Matches, ctx, c.Params("id"))
		if err != nil {
			return matchError(err, -1).write(s, c)
		}
		return sendJSONValue(c, fiber.StatusOK, m)
	}
}

func sendJSONValue(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}
