package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Static returns the client's files, rooted so that "index.html" is the page.
// Serve it at "/".
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic("web: embedded static folder missing: " + err.Error()) // cannot happen: go:embed checked it
	}
	return sub
}

// ClientConfig is the body of GET /v1/config, which the page reads on load.
// It is the contract between ingest, which serves it, and the page; see
// web/README.md.
type ClientConfig struct {
	// WSURLs are the NATS WebSocket URLs of the leaf clusters, e.g.
	// "ws://127.0.0.1:9222". The page connects to one of them and fails over
	// to the others.
	WSURLs []string `json:"ws_urls"`
	// WindowMS is the window length in milliseconds (2000 by default). The
	// page spreads each window's swarm animation over that long.
	WindowMS int64 `json:"window_ms"`
	// SwarmThreshold is how many identical emojis make one swarm unit (1000
	// by default). The page only shows it in its legend.
	SwarmThreshold int64 `json:"swarm_threshold"`
	// EmojiTypes is the accepted emoji set, in the order of the page's
	// buttons; the same list as GET /v1/emoji-types.
	EmojiTypes []string `json:"emoji_types"`
}
