package ingest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Browsers. The public API answers CORS for the page's own origin and the
// configured ones (Config.CORSOrigins), refuses any other origin with 403
// forbidden before the request is handled (so a cross-origin POST that a
// browser sends without a preflight still stores nothing), and answers
// preflights. Every public response carries the security headers, the
// page's Content-Security-Policy among them. The ops listener takes no
// browser requests at all (ops.go).

// corsMaxAge is how long a browser may cache a preflight, in seconds.
const corsMaxAge = "600"

// timelinePath is the route of a match's timeline (timeline.go).
const timelinePath = "/v1/matches/:id/timeline"

// allowed answers the methods path does not take with 405 and records
// those it does for OPTIONS (cors): only what the API serves is
// announced.
func (s *Server) allowed(app *fiber.App, path, methods string) {
	app.All(path, s.methodNotAllowed(methods))
	if s.allow == nil {
		s.allow = map[string]string{}
	}
	s.allow[path] = methods
}

// allowOf is the methods path takes, or false for a path the public API
// does not serve.
func (s *Server) allowOf(path string) (string, bool) {
	if m, ok := s.allow[path]; ok && !strings.Contains(path, ":") {
		return m, true
	}
	m, served := s.allow[timelinePath]
	id, ok := strings.CutPrefix(path, "/v1/matches/")
	if id, ok2 := strings.CutSuffix(id, "/timeline"); served && ok && ok2 && id != "" && !strings.Contains(id, "/") {
		return m, true
	}
	return "", false
}

// originRules are the rules of Config.CORSOrigins: "*" or
// scheme://host[:port].
func originRules(origins []string) []setting.Rule {
	rules := make([]setting.Rule, len(origins))
	for i, o := range origins {
		u, err := url.Parse(o)
		ok := o == "*" || err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" && u.RawQuery == "" && u.User == nil
		rules[i] = setting.Check("CORSOrigins", o, ok, "want scheme://host[:port] or *")
	}
	return rules
}

// videoOriginRules validate Config.VideoOrigins, which go into the
// page's Content-Security-Policy as they are: http(s)://host[:port] and
// nothing more, no wildcard.
func videoOriginRules(origins []string) []setting.Rule {
	rules := make([]setting.Rule, len(origins))
	for i, o := range origins {
		u, err := url.Parse(o)
		ok := err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
			o == u.Scheme+"://"+u.Host && !strings.ContainsAny(u.Host, " ;,'\"*")
		rules[i] = setting.Check("VideoOrigins", o, ok, "want http(s)://host[:port]")
	}
	return rules
}

// originAllowed reports whether a browser page of origin may call the API
// answering at host: its own origin always, others only when listed.
func (s *Server) originAllowed(origin, host string) (allowed, cross bool) {
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, host) {
		return true, false
	}
	return slices.Contains(s.cfg.CORSOrigins, "*") || slices.Contains(s.cfg.CORSOrigins, origin), true
}

// cors is the public app's first handler after the security headers.
func (s *Server) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	allow, known := s.allowOf(c.Path())
	if c.Method() == fiber.MethodOptions && known && origin == "" {
		c.Set(fiber.HeaderAllow, allow+", OPTIONS")
		return c.SendStatus(fiber.StatusNoContent)
	}
	if origin == "" {
		return c.Next()
	}
	c.Vary(fiber.HeaderOrigin)
	ok, cross := s.originAllowed(origin, string(c.Request().Host()))
	if !ok {
		return s.fail(c, wire.CodeForbidden,
			fmt.Sprintf("pages of origin %q may not call this API (--cors-origins)", origin), -1)
	}
	if cross {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlExposeHeaders, "Retry-After")
	}
	if c.Method() != fiber.MethodOptions || c.Get(fiber.HeaderAccessControlRequestMethod) == "" {
		return c.Next()
	}
	if !known {
		return s.fail(c, wire.CodeNotFound, "no such path: "+c.Path(), -1)
	}
	c.Set(fiber.HeaderAccessControlAllowMethods, allow)
	c.Set(fiber.HeaderAccessControlAllowHeaders, "Authorization, Content-Type, Content-Encoding")
	c.Set(fiber.HeaderAccessControlMaxAge, corsMaxAge)
	return c.SendStatus(fiber.StatusNoContent)
}

// webSocketURLRules are the rules of Config.WebSocketURLs, which go into the page's
// Content-Security-Policy: ws:// or wss:// URLs of plain hosts.
func webSocketURLRules(urls []string) []setting.Rule {
	rules := make([]setting.Rule, len(urls))
	for i, w := range urls {
		u, err := url.Parse(w)
		ok := err == nil && (u.Scheme == "ws" || u.Scheme == "wss") && u.Host != "" && !strings.ContainsAny(u.Host, " ;,'\"")
		rules[i] = setting.Check("WebSocketURLs", w, ok, "want ws:// or wss://host[:port][/path]")
	}
	return rules
}

// contentSecurityPolicy allows the pages their own scripts, styles and
// API, WebSockets to the leaves only, and the player page media from its
// own origin, the video origins and the Media Source Extensions' blob:
// URLs (hls.js); no frames, no plugins, no workers, no inline script.
func contentSecurityPolicy(wsURLs, videoOrigins []string) string {
	connect := []string{"'self'"}
	for _, w := range wsURLs {
		u, _ := url.Parse(w) // checked by webSocketURLRules
		connect = append(connect, u.Scheme+"://"+u.Host)
	}
	connect = append(connect, videoOrigins...) // checked by videoOriginRules
	media := append([]string{"'self'", "blob:"}, videoOrigins...)
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src " + strings.Join(media, " ") +
		"; connect-src " + strings.Join(connect, " ") + "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// securityHeaders go on every public response.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set(fiber.HeaderContentSecurityPolicy, s.csp)
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	h.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	h.Set(fiber.HeaderXFrameOptions, "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	return c.Next()
}
