package web

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed static client/dist/emostream.min.js
var files embed.FS

// ClientPath is where [Static] holds the embeddable client, so that ingest
// serves it at "/client/emostream.min.js" beside the page, which imports it
// from there.
const ClientPath = "client/emostream.min.js"

// Static returns the page's files, rooted so that "index.html" is the page,
// with the embeddable client at [ClientPath]. Serve it at "/", with ".js"
// as text/javascript.
func Static() fs.FS {
	return pageFS{static: sub("static"), client: sub("client/dist")}
}

func sub(dir string) fs.FS {
	s, err := fs.Sub(files, dir)
	if err != nil {
		panic("web: embedded folder missing: " + err.Error()) // cannot happen: go:embed checked it
	}
	return s
}

// pageFS is web/static with the built client under "client/": two embedded
// folders seen as one tree. A name under "client/" is looked up in
// client/dist, which holds only emostream.min.js.
type pageFS struct{ static, client fs.FS }

func (p pageFS) Open(name string) (fs.File, error) {
	if rest, ok := strings.CutPrefix(name, "client/"); ok {
		return p.client.Open(rest)
	}
	if name == "client" {
		return p.client.Open(".")
	}
	return p.static.Open(name)
}

// Client returns the embeddable JavaScript client (web/client, built into
// client/dist/emostream.min.js; docs/client.md): the ES module [Static]
// holds at [ClientPath].
func Client() []byte {
	b, err := fs.ReadFile(files, "client/dist/emostream.min.js")
	if err != nil {
		panic("web: embedded client missing: " + err.Error()) // cannot happen: go:embed checked it
	}
	return b
}

// ClientConfig is the body of GET /v1/config, which the page reads on load.
// It is the contract between ingest, which serves it, and the page; see
// web/README.md.
type ClientConfig struct {
	// WebSocketURLs are the NATS WebSocket URLs of the leaf clusters, e.g.
	// "ws://127.0.0.1:9222". The page connects to one of them and fails over
	// to the others.
	WebSocketURLs []string `json:"ws_urls"`
	// WindowMs is the window length in milliseconds (2000 by default). The
	// page spreads each window's swarm animation over that long.
	WindowMs int64 `json:"window_ms"`
	// SwarmThreshold is how many identical emojis make one swarm unit (1000
	// by default). The page only shows it in its legend.
	SwarmThreshold int64 `json:"swarm_threshold"`
	// EmojiTypes is the accepted emoji set, in the order of the page's
	// buttons; the same list as GET /v1/emoji-types.
	EmojiTypes []string `json:"emoji_types"`
	// Limits are the server's request limits, which a client sending many
	// events splits its requests by. Nil when the server does not say.
	Limits *Limits `json:"limits,omitempty"`
	// Auth is "jwt" when POST /v1/emojis needs Authorization: Bearer
	// <token> (docs/api.md, "Authentication"); absent when it does not.
	Auth string `json:"auth,omitempty"`
	// Sessions is true when POST /v1/session hands out demo tokens; the
	// page then takes one and sends as its user.
	Sessions bool `json:"sessions,omitempty"`
}

// Limits are the request limits of POST /v1/emojis that a client can plan
// for. A rate or burst of 0 means no such limit.
type Limits struct {
	// MaxEvents is the most events in one request (1000).
	MaxEvents int `json:"max_events"`
	// UserRate and UserBurst are the per-user token bucket: events/s and
	// the most events of one user a request may hold.
	UserRate  float64 `json:"user_rate"`
	UserBurst int     `json:"user_burst"`
	// IPRate and IPBurst are the same per client network (docs/api.md).
	IPRate  float64 `json:"ip_rate"`
	IPBurst int     `json:"ip_burst"`
}
