package fanout

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Defaults of LeafConfig.
const (
	DefaultLeafName           = "emostream-leaf"
	DefaultWebSocketListen    = "127.0.0.1:9222"
	DefaultLeafClientListen   = "127.0.0.1:0"
	DefaultLeafMaxConnections = 16384
	DefaultLeafMaxSubs        = 256
	// DefaultLeafLinkMaxSubs bounds a leafnode link's subscriptions, as the
	// hub's DefaultHubLeafMaxSubs: a leaf of this leaf carries one per
	// distinct subject its viewers, edges and leaves watch.
	DefaultLeafLinkMaxSubs = DefaultHubLeafMaxSubs
	DefaultLeafMaxPayload  = 64 << 10
	DefaultLeafMaxPending  = 256 << 10
	// DefaultLeafEdgeMaxPending is MaxPending with DisableWebSocket, when
	// the leaf's clients are edges: each reads every match's swarms on one
	// connection, and the processor publishes a window's swarms at once
	// (500 matches' are 400 KB), which a viewer's 256 KiB would cut off.
	DefaultLeafEdgeMaxPending = 64 << 20
	DefaultLeafWriteTimeout   = 2 * time.Second
	DefaultLeafPingInterval   = 30 * time.Second
	viewerUser                = "viewer"
	// minLeafLinkSubs is the least LeafMaxSubscriptions: what the hub's
	// interest (about a dozen subjects) needs, with room.
	minLeafLinkSubs = 32
)

// ErrNoRemotes is wrapped, beside ErrConfig, by the error of a leaf with no
// hub to connect to.
var ErrNoRemotes = errors.New("fanout: a leaf needs at least one remote (hub or parent leaf)")

// LeafConfig builds a leaf cluster node when no .conf file is given. It
// renders to the same configuration as deploy/leaf-a.conf.
type LeafConfig struct {
	// ConfigFile is a nats-server .conf to load. When set, the non-zero
	// fields among Name, Remotes (the URLs of the file's one remote),
	// WebSocketListen, LeafListen, MonitorListen, AllowedOrigins and
	// MaxConnections override the file's values (as nats-server's own
	// flags override its -c file), the credential and TLS fields must be
	// zero (ErrFileOnly), and the others but Logger are ignored.
	ConfigFile string
	// Name is the server name. Zero means "emostream-leaf".
	Name string
	// Remotes are leafnode URLs of the hub (or a parent leaf) with
	// credentials, e.g. Hub.LeafRemote(). Several URLs are one remote with
	// fail-over. Required.
	Remotes []string
	// WebSocketListen serves viewers. Port 0 picks a free port. Zero means
	// "127.0.0.1:9222".
	WebSocketListen string
	// DisableWebSocket turns the WebSocket listener off: viewers come through
	// edges on ClientListen (emostream edge) instead.
	DisableWebSocket bool
	// ClientListen is the plain NATS port, which no viewer can use (viewers
	// are WebSocket-only). Zero means "127.0.0.1:0".
	ClientListen string
	// RemoteTLS secures the connection to Remotes: CA verifies the hub's
	// (or parent leaf's) certificate, Cert and Key are an optional client
	// certificate. Zero means plain, unless a remote URL says tls://.
	RemoteTLS TLSConfig
	// LeafListen accepts leaves of this leaf. Zero means none.
	LeafListen string
	// LeafUser and LeafPassword are the credentials of leaves of this leaf.
	// Zero means "leaf" and a random password (read back with LeafRemote).
	LeafUser, LeafPassword string
	// EdgePassword is the password of user "edge" on ClientListen, which
	// viewer edges (emostream edge) connect as. Zero means a random one
	// (read back with EdgeUpstream).
	EdgePassword string
	// MonitorListen serves /varz, /connz, /subsz, /leafz. Zero means none.
	MonitorListen string
	// TLSCert and TLSKey are PEM files; set both to serve wss://. Zero
	// means plain ws://, which is right on loopback or behind a TLS proxy.
	TLSCert, TLSKey string
	// AllowedOrigins limits the browser origins that may connect. Zero
	// means any origin.
	AllowedOrigins []string
	// Compression negotiates permessage-deflate with viewers. Zero means
	// off (cheaper in memory per viewer; swarms are small).
	Compression bool
	// MaxConnections caps connections. Zero means 16384.
	MaxConnections int
	// MaxSubscriptions caps the subscriptions of one viewer connection
	// (account VIEWERS): one per match it watches, and its reply inbox.
	// One over it is refused, the connection kept. At most
	// LeafMaxSubscriptions. Zero means 256.
	MaxSubscriptions int
	// LeafMaxSubscriptions caps the subscriptions of every other
	// connection (account HUB): the leafnode link to Remotes, which
	// carries the hub's interest (its JetStream API and the reads'
	// imports, about a dozen subjects); that of a leaf of this leaf, which
	// carries one per distinct subject its viewers, edges and leaves watch
	// (a viewer's reply inbox never crosses a link: its reads come back on
	// one wildcard per leaf); and an edge's, which holds two. It is the
	// hub's LeafMaxSubscriptions one level down. At least 32. Zero means
	// 65536.
	LeafMaxSubscriptions int
	// MaxPayload caps a message's size. Zero means 64 KiB.
	MaxPayload int
	// MaxPending is the most bytes buffered for one slow viewer before it is
	// cut off as a slow consumer; nats-server applies it to every client
	// connection, edges' too. Zero means 256 KiB, or 64 MiB with
	// DisableWebSocket (no viewers: only edges, which carry every match).
	MaxPending int
	// WriteTimeout cuts off a viewer that cannot take writes for this long
	// (nats-server's write_deadline; counted as a slow consumer). Zero
	// means 2s.
	WriteTimeout time.Duration
	// PingInterval is how often idle viewers are pinged. Zero means 30s.
	PingInterval time.Duration
	// Logger receives the server's log. Nil discards it.
	Logger *slog.Logger
}

// Leaf is a cluster publisher: an embedded nats-server that is a leafnode of
// the hub and serves NATS WebSocket to viewers.
type Leaf struct {
	*embedded
	cfg LeafConfig
}

// NewLeaf validates cfg and builds the leaf; Start or Run starts it.
func NewLeaf(cfg LeafConfig) (*Leaf, error) {
	cfg, opts, err := buildOptions(cfg, cfg.ConfigFile)
	if err != nil {
		return nil, err
	}
	log := orDiscard(cfg.Logger).With("component", "leaf", "leaf", opts.ServerName)
	e, err := newEmbedded(opts, log, cfg.ConfigFile == "")
	if err != nil {
		return nil, err
	}
	e.lockHint = leafLockHint
	return &Leaf{embedded: e, cfg: cfg}, nil
}

// override applies the set fields of c to the options of c.ConfigFile.
func (c LeafConfig) override(opts *server.Options) error {
	if err := setting.First(ErrConfig, fileOnly("RemoteTLS", c.RemoteTLS != (TLSConfig{})), fileOnly("LeafUser", c.LeafUser != ""),
		fileOnly("LeafPassword", c.LeafPassword != ""), fileOnly("EdgePassword", c.EdgePassword != ""),
		fileOnly("TLSCert", c.TLSCert != ""), fileOnly("TLSKey", c.TLSKey != "")); err != nil {
		return err
	}
	if c.Name != "" {
		opts.ServerName = c.Name
	}
	if c.MaxConnections > 0 {
		opts.MaxConn = c.MaxConnections
	}
	if len(c.AllowedOrigins) > 0 {
		opts.Websocket.AllowedOrigins = c.AllowedOrigins
	}
	if err := overrideRemotes(opts, c.Remotes); err != nil {
		return err
	}
	if err := overrideListen(c.WebSocketListen, &opts.Websocket.Host, &opts.Websocket.Port); err != nil {
		return err
	}
	if err := overrideListen(c.LeafListen, &opts.LeafNode.Host, &opts.LeafNode.Port); err != nil {
		return err
	}
	return overrideListen(c.MonitorListen, &opts.HTTPHost, &opts.HTTPPort)
}

func (c LeafConfig) withDefaults() (LeafConfig, error) {
	c.Name = cmp.Or(c.Name, DefaultLeafName)
	c.WebSocketListen = cmp.Or(c.WebSocketListen, DefaultWebSocketListen)
	c.ClientListen = cmp.Or(c.ClientListen, DefaultLeafClientListen)
	c.LeafUser = cmp.Or(c.LeafUser, DefaultLeafUser)
	c.LeafPassword = cmp.Or(c.LeafPassword, randomSecret())
	c.EdgePassword = cmp.Or(c.EdgePassword, randomSecret())
	c.MaxConnections = cmp.Or(c.MaxConnections, DefaultLeafMaxConnections)
	c.MaxSubscriptions = cmp.Or(c.MaxSubscriptions, DefaultLeafMaxSubs)
	c.LeafMaxSubscriptions = cmp.Or(c.LeafMaxSubscriptions, DefaultLeafLinkMaxSubs)
	c.MaxPayload = cmp.Or(c.MaxPayload, DefaultLeafMaxPayload)
	pending := DefaultLeafMaxPending
	if c.DisableWebSocket {
		pending = DefaultLeafEdgeMaxPending
	}
	c.MaxPending = cmp.Or(c.MaxPending, pending)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultLeafWriteTimeout)
	c.PingInterval = cmp.Or(c.PingInterval, DefaultLeafPingInterval)
	return c, c.validate()
}

// validate checks c, with its defaults, one rule per setting in field order
// (package setting): its error names the setting and wraps ErrConfig.
func (c LeafConfig) validate() error {
	rules := []setting.Rule{setting.Check("Remotes", nil, len(c.Remotes) > 0, "want at least one: the hub, or a parent leaf").Wrapping(ErrNoRemotes)}
	rules = append(rules, remotesRule(c.Remotes))
	rules = append(rules, setting.Check("RemoteTLS.Verify", c.RemoteTLS.Verify, !c.RemoteTLS.Verify, "want false: Verify is for listeners"))
	rules = append(rules, c.RemoteTLS.rules("RemoteTLS", false)...)
	rules = append(rules,
		credential("LeafUser", c.LeafUser),
		setting.Check("LeafUser", c.LeafUser, c.LeafUser != UserEdge && c.LeafUser != viewerUser,
			"want a name other than "+UserEdge+" and "+viewerUser+", the leaf's other users"),
		credential("LeafPassword", c.LeafPassword),
		credential("EdgePassword", c.EdgePassword),
		setting.Check("TLSKey", setting.Text(c.TLSKey), (c.TLSCert == "") == (c.TLSKey == ""), "want both a certificate and a key, or neither"),
		setting.AtLeast("MaxConnections", c.MaxConnections, 0),
		setting.AtLeast("MaxSubscriptions", c.MaxSubscriptions, 0),
		setting.Check("LeafMaxSubscriptions", c.LeafMaxSubscriptions, c.LeafMaxSubscriptions >= minLeafLinkSubs,
			fmt.Sprintf("want at least %d: the link to Remotes carries the hub's interest, about a dozen subjects", minLeafLinkSubs)),
		setting.Check("MaxSubscriptions", c.MaxSubscriptions, c.MaxSubscriptions <= c.LeafMaxSubscriptions,
			fmt.Sprintf("want at most LeafMaxSubscriptions (%d): nats-server applies the smaller", c.LeafMaxSubscriptions)),
		setting.AtLeast("MaxPayload", c.MaxPayload, 0),
		setting.AtLeast("MaxPending", c.MaxPending, 0),
		setting.AtLeast("WriteTimeout", c.WriteTimeout, 0),
		setting.AtLeast("PingInterval", c.PingInterval, 0),
	)
	return setting.First(ErrConfig, rules...)
}

func (c LeafConfig) render() (string, error) {
	data := map[string]any{"C": c, "Get": wire.LatestSwarmRequests, "HubGet": hubLatestSwarmRequests, "Live": wire.LiveSubjects,
		"Next": wire.SwarmsGet, "HubNext": hubSwarmsGet, "LeafPublish": edgePublish(HubDomain), "Edge": UserEdge,
		"LeafAllow":   []string{wire.LiveSubjects, serviceReplies, inboxes},
		"ViewerGet":   []string{wire.LatestSwarmRequests, wire.SwarmsGet},
		"ViewerAllow": []string{wire.LiveSubjects, inboxes}, "Viewer": viewerUser}
	ws := c.WebSocketListen
	if c.DisableWebSocket {
		ws = ""
	}
	addrs := map[string]string{"WS": ws, "Client": c.ClientListen,
		"Leaf": c.LeafListen, "Monitor": c.MonitorListen}
	for k, a := range addrs {
		if a == "" {
			continue
		}
		l, err := listen(a)
		if err != nil {
			return "", err
		}
		data[k] = l
	}
	return render(leafTemplate, data)
}

// WebSocketURL is where viewers connect, e.g. ws://127.0.0.1:9222; "" with
// DisableWebSocket.
func (l *Leaf) WebSocketURL() string {
	if l.opts.Websocket.Port == 0 {
		return ""
	}
	scheme := "ws"
	if l.opts.Websocket.TLSConfig != nil {
		scheme = "wss"
	}
	return url(scheme, l.opts.Websocket.Host, l.opts.Websocket.Port)
}

// LeafURL is this leaf's own leafnode listener (for leaves of this leaf),
// without credentials; "" if it has none.
func (l *Leaf) LeafURL() string {
	if l.opts.LeafNode.Port == 0 {
		return ""
	}
	return url("nats-leaf", l.opts.LeafNode.Host, l.opts.LeafNode.Port)
}

// LeafRemote is LeafURL with credentials, for LeafConfig.Remotes of a leaf
// of this leaf. A leaf loaded from a file returns LeafURL.
func (l *Leaf) LeafRemote() string {
	u := l.LeafURL()
	if u == "" || l.cfg.ConfigFile != "" {
		return u
	}
	return u[:len("nats-leaf://")] + l.cfg.LeafUser + ":" + l.cfg.LeafPassword + "@" + u[len("nats-leaf://"):]
}

// leafTemplate mirrors deploy/leaf-a.conf.
var leafTemplate = template.Must(template.Must(tlsTemplate.Clone()).New("leaf").Parse(`
server_name: {{q .C.Name}}
listen: {{.Client}}
{{- if .Monitor}}
http: {{.Monitor}}
{{- end}}
max_connections: {{.C.MaxConnections}}
max_subscriptions: {{.C.LeafMaxSubscriptions}}
max_payload: {{.C.MaxPayload}}
max_pending: {{.C.MaxPending}}
write_deadline: "{{.C.WriteTimeout}}"
{{- if .WS}}
websocket {
  listen: {{.WS}}
{{- if .C.TLSCert}}
  tls { cert_file: {{q .C.TLSCert}}, key_file: {{q .C.TLSKey}} }
{{- else}}
  no_tls: true
{{- end}}
  no_auth_user: {{q .Viewer}}
{{- if .C.AllowedOrigins}}
  allowed_origins: [{{join .C.AllowedOrigins}}]
{{- end}}
  compression: {{.C.Compression}}
  ping_interval: "{{.C.PingInterval}}"
}
{{- end}}
accounts {
  HUB {
    users: [
      {user: {{q .C.LeafUser}}, password: {{q .C.LeafPassword}}, allowed_connection_types: ["LEAFNODE"],
        permissions: {publish: {allow: [{{join .LeafPublish}}]}, subscribe: {allow: [{{join .LeafAllow}}]}}}
      {user: {{q .Edge}}, password: {{q .C.EdgePassword}}, allowed_connection_types: ["STANDARD"],
        permissions: {publish: {allow: [{{join .LeafPublish}}]}, subscribe: {allow: [{{join .ViewerAllow}}]}}}
    ]
    exports: [{stream: {{q .Live}}}, {service: {{q .HubGet}}}, {service: {{q .HubNext}}}]
  }
  VIEWERS {
    limits: {max_subscriptions: {{.C.MaxSubscriptions}}}
    users: [{user: {{q .Viewer}}, password: "", allowed_connection_types: ["WEBSOCKET"],
      permissions: {publish: {allow: [{{join .ViewerGet}}]}, subscribe: {allow: [{{join .ViewerAllow}}]}}}]
    imports: [
      {stream: {account: HUB, subject: {{q .Live}}}}
      {service: {account: HUB, subject: {{q .HubGet}}}, to: {{q .Get}}}
      {service: {account: HUB, subject: {{q .HubNext}}}, to: {{q .Next}}}
    ]
  }
}
leafnodes {
{{- if .Leaf}}
  listen: {{.Leaf}}
{{- end}}
  remotes: [{urls: [{{join .C.Remotes}}], account: HUB
{{- if or .C.RemoteTLS.CA .C.RemoteTLS.Cert}}, tls: { {{template "tls" .C.RemoteTLS}} }{{end}}}]
}
`))

// ClientURL is the leaf's plain NATS port (not for viewers).
func (l *Leaf) ClientURL() string { return url("nats", l.opts.Host, l.opts.Port) }

// EdgeUpstream is ClientURL with the credentials of user "edge", for an
// edge's upstream. A leaf loaded from a file returns ClientURL.
func (l *Leaf) EdgeUpstream() string {
	u := l.ClientURL()
	if l.cfg.ConfigFile != "" {
		return u
	}
	return "nats://" + UserEdge + ":" + l.cfg.EdgePassword + "@" + strings.TrimPrefix(u, "nats://")
}
