package fanout

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"text/template"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Defaults of HubConfig.
const (
	DefaultHubName           = "emostream-hub"
	DefaultDataDir           = "./.emostream"
	DefaultClientListen      = "127.0.0.1:4222"
	DefaultHubLeafListen     = "127.0.0.1:7422"
	DefaultStageUser         = "stages"
	DefaultLeafUser          = "leaf"
	DefaultHubMaxConnections = 1024
	DefaultHubMaxSubs        = 16384
	// DefaultHubLeafMaxSubs bounds a leaf connection's subscriptions: one
	// per distinct subject its viewers, edges and leaves watch (not one
	// per viewer: a viewer's reply inbox stays on its leaf), so every
	// match of a full registry (registry.DefaultMaxMatches) live, watched
	// on one leaf, fits six times.
	DefaultHubLeafMaxSubs  = 65536
	DefaultHubMaxPayload   = 1 << 20
	DefaultHubWriteTimeout = 10 * time.Second
)

// HubConfig builds the hub when no .conf file is given. It renders to the
// same nats-server configuration as the repository's nats.conf.
type HubConfig struct {
	// ConfigFile is a nats-server .conf to load. When set, the non-zero
	// fields among Name, DataDir, ClientListen, LeafListen, MonitorListen
	// and MaxConnections override the file's values (as nats-server's own
	// flags override its -c file), the credential and TLS fields must be
	// zero (ErrFileOnly), and the others but Logger are ignored. A relative
	// store_dir in the file is relative to the working directory, as with a
	// stock nats-server, so that one file behaves the same under both.
	ConfigFile string
	// Name is the server name. Zero means "emostream-hub".
	Name string
	// DataDir holds JetStream's store (DataDir/jetstream; store_dir is
	// DataDir, since nats-server adds the "jetstream"), fsynced on every
	// write, and locked against other servers in DataDir/jetstream.lock
	// (StoreLockFile) while the hub runs. Zero means "./.emostream".
	DataDir string
	// ClientListen is where stages connect. Port 0 picks a free port. Zero
	// means "127.0.0.1:4222".
	ClientListen string
	// LeafListen is where leaf clusters connect. Port 0 picks a free port.
	// Zero means "127.0.0.1:7422".
	LeafListen string
	// MonitorListen serves /varz, /connz, /subsz, /leafz, /jsz. Zero means
	// no monitoring port.
	MonitorListen string
	// StageUser is the one user of account STAGES (which has JetStream)
	// when Passwords is nil: every client connects as it, without
	// credentials, with every permission. Zero means "stages".
	StageUser string
	// Passwords are the passwords of the client port's users (StageUsers:
	// ingest, bridge, processor, admin, edge and the read-only monitor),
	// each with the least permissions of its role (Permissions), in the
	// account UserAccount names. A missing or empty one is random; read
	// them back with Passwords. Nil means no credentials at all (StageUser,
	// above), which NewHub refuses unless ClientListen is loopback
	// (ErrNoCredentials).
	Passwords map[string]string
	// AnonymousAdmin, with Passwords, lets a client without credentials
	// connect as UserAdmin (the match registry, nothing else): emostream
	// up's quick start. NewHub refuses it unless ClientListen is loopback.
	AnonymousAdmin bool
	// ClientTLS serves the client port over TLS (Cert and Key; with CA and
	// Verify, stages must present a client certificate). Zero means plain.
	ClientTLS TLSConfig
	// LeafTLS serves the leafnode port over TLS, as ClientTLS. Zero means
	// plain.
	LeafTLS TLSConfig
	// LeafUser is the user leaf clusters connect as (account LEAF). Zero
	// means "leaf".
	LeafUser string
	// LeafPassword is the leaf clusters' password. Zero means a random one,
	// read back with LeafRemote.
	LeafPassword string
	// MaxConnections caps client connections. Zero means 1024.
	MaxConnections int
	// MaxSubscriptions caps the subscriptions of one connection of a
	// stage or of the monitor user (accounts STAGES, INGEST and MONITOR);
	// one over it is refused with an error, the connection kept. At most
	// LeafMaxSubscriptions. Zero means 16384: ingest holds one reply inbox
	// per timeline answer in flight, up to one per HTTP connection, so it
	// stays above ingest's DefaultMaxConnections (10,000).
	MaxSubscriptions int
	// LeafMaxSubscriptions caps the subscriptions of one leaf connection
	// (account LEAF, and of an edge connected to the hub), which carries
	// one per distinct subject the leaf's viewers, edges and leaves watch:
	// one per live match watched there, and the edges' two. A viewer's
	// reply inbox is not among them: it lives in the leaf's account
	// VIEWERS, and its reads reach the hub through a service import whose
	// answers come back on one wildcard (_R_.<id>.>) per leaf. One over it
	// is refused (the leaf stays connected; that subject's messages do not
	// reach it). Zero means 65536.
	LeafMaxSubscriptions int
	// MaxPayload caps a message's size. Zero means 1 MiB.
	MaxPayload int
	// WriteTimeout cuts off a connection that cannot take writes for this
	// long (nats-server's write_deadline). Zero means 10s.
	WriteTimeout time.Duration
	// Logger receives the server's log. Nil discards it.
	Logger *slog.Logger
}

// Hub is the main publisher: an embedded nats-server with JetStream that
// stages publish to and leaf clusters connect to.
type Hub struct {
	*embedded
	cfg HubConfig
}

// NewHub validates cfg and builds the hub; Start or Run starts it.
func NewHub(cfg HubConfig) (*Hub, error) {
	cfg, opts, err := buildOptions(cfg, cfg.ConfigFile)
	if err != nil {
		return nil, err
	}
	if err := checkExposed(opts); err != nil {
		return nil, err
	}
	e, err := newEmbedded(opts, orDiscard(cfg.Logger).With("component", "hub"), cfg.ConfigFile == "")
	if err != nil {
		return nil, err
	}
	return &Hub{embedded: e, cfg: cfg}, nil
}

// override applies the set fields of c to the options of c.ConfigFile.
func (c HubConfig) override(opts *server.Options) error {
	if err := setting.First(ErrConfig, fileOnly("StageUser", c.StageUser != ""), fileOnly("Passwords", c.Passwords != nil),
		fileOnly("AnonymousAdmin", c.AnonymousAdmin), fileOnly("ClientTLS", c.ClientTLS != (TLSConfig{})),
		fileOnly("LeafTLS", c.LeafTLS != (TLSConfig{})), fileOnly("LeafUser", c.LeafUser != ""),
		fileOnly("LeafPassword", c.LeafPassword != "")); err != nil {
		return err
	}
	if c.Name != "" {
		opts.ServerName = c.Name
	}
	if c.DataDir != "" {
		opts.StoreDir = storeDir(c.DataDir)
	}
	if c.MaxConnections > 0 {
		opts.MaxConn = c.MaxConnections
	}
	if err := overrideListen(c.ClientListen, &opts.Host, &opts.Port); err != nil {
		return err
	}
	if err := overrideListen(c.LeafListen, &opts.LeafNode.Host, &opts.LeafNode.Port); err != nil {
		return err
	}
	return overrideListen(c.MonitorListen, &opts.HTTPHost, &opts.HTTPPort)
}

func (c HubConfig) withDefaults() (HubConfig, error) {
	c.Name = cmp.Or(c.Name, DefaultHubName)
	c.DataDir = cmp.Or(c.DataDir, DefaultDataDir)
	c.ClientListen = cmp.Or(c.ClientListen, DefaultClientListen)
	c.LeafListen = cmp.Or(c.LeafListen, DefaultHubLeafListen)
	c.StageUser = cmp.Or(c.StageUser, DefaultStageUser)
	c.LeafUser = cmp.Or(c.LeafUser, DefaultLeafUser)
	c.LeafPassword = cmp.Or(c.LeafPassword, randomSecret())
	if c.Passwords != nil {
		pw := make(map[string]string, len(StageUsers))
		for _, u := range StageUsers {
			pw[u] = cmp.Or(c.Passwords[u], randomSecret())
		}
		c.Passwords = pw
	}
	c.MaxConnections = cmp.Or(c.MaxConnections, DefaultHubMaxConnections)
	c.MaxSubscriptions = cmp.Or(c.MaxSubscriptions, DefaultHubMaxSubs)
	c.LeafMaxSubscriptions = cmp.Or(c.LeafMaxSubscriptions, DefaultHubLeafMaxSubs)
	c.MaxPayload = cmp.Or(c.MaxPayload, DefaultHubMaxPayload)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultHubWriteTimeout)
	return c, c.validate()
}

// validate checks c, with its defaults, one rule per setting in field order
// (package setting): its error names the setting and wraps ErrConfig.
func (c HubConfig) validate() error {
	rules := []setting.Rule{credential("StageUser", c.StageUser)}
	for _, u := range slices.Sorted(maps.Keys(c.Passwords)) { // withDefaults kept the StageUsers'
		rules = append(rules, credential("Passwords["+u+"]", c.Passwords[u]))
	}
	rules = append(rules, setting.Check("AnonymousAdmin", c.AnonymousAdmin, !c.AnonymousAdmin || c.Passwords != nil, "want Passwords beside it"))
	rules = append(rules, c.ClientTLS.rules("ClientTLS", true)...)
	rules = append(rules, c.LeafTLS.rules("LeafTLS", true)...)
	rules = append(rules,
		credential("LeafUser", c.LeafUser),
		setting.Check("LeafUser", c.LeafUser, !slices.Contains(c.clientUsers(), c.LeafUser), "want a name no user of the client port has"),
		credential("LeafPassword", c.LeafPassword),
		setting.AtLeast("MaxConnections", c.MaxConnections, 0),
		setting.AtLeast("MaxSubscriptions", c.MaxSubscriptions, 0),
		setting.AtLeast("LeafMaxSubscriptions", c.LeafMaxSubscriptions, 0),
		setting.Check("MaxSubscriptions", c.MaxSubscriptions, c.MaxSubscriptions <= c.LeafMaxSubscriptions,
			fmt.Sprintf("want at most LeafMaxSubscriptions (%d): nats-server applies the smaller", c.LeafMaxSubscriptions)),
		setting.AtLeast("MaxPayload", c.MaxPayload, 0),
		setting.AtLeast("WriteTimeout", c.WriteTimeout, 0),
	)
	return setting.First(ErrConfig, rules...)
}

func (c HubConfig) render() (string, error) {
	data := map[string]any{"C": c, "Store": storeDir(c.DataDir),
		"Get": wire.LatestSwarmRequests, "LeafGet": hubLatestSwarmRequests, "Next": wire.SwarmsGet,
		"LeafPublish": edgePublish(HubDomain), "Viewers": wire.ViewersSubjects, "Domain": HubDomain, "Live": wire.LiveSubjects,
		"Allow": []string{wire.LiveSubjects, serviceReplies, inboxes}, "Users": c.users(), "Admin": UserAdmin,
		"Exports": stagesExports(), "Threshold": streamedThreshold,
		"Readers": []readerAccount{{AccountIngest, ingestImports}, {AccountMonitor, monitorRead}}}
	for k, a := range map[string]string{"Client": c.ClientListen, "Leaf": c.LeafListen, "Monitor": c.MonitorListen} {
		if a == "" {
			continue
		}
		l, err := listen(a)
		if err != nil {
			return "", err
		}
		data[k] = l
	}
	return render(hubTemplate, data)
}

// clientUsers are the names of the client port's users: StageUsers, or
// StageUser alone without Passwords. nats-server takes a name once.
func (c HubConfig) clientUsers() []string {
	if c.Passwords == nil {
		return []string{c.StageUser}
	}
	return StageUsers
}

// readerAccount is an account of users that only read (INGEST, MONITOR):
// no JetStream, the Services of STAGES imported.
type readerAccount struct {
	Name     string
	Services []string
}

// stageUser is one user of the client port, as rendered.
type stageUser struct {
	Name, Password string
	Permission
}

// users are the client port's users with passwords, by account
// (UserAccount).
func (c HubConfig) users() map[string][]stageUser {
	perms := Permissions()
	out := map[string][]stageUser{}
	for _, u := range StageUsers {
		if pw, ok := c.Passwords[u]; ok {
			a := UserAccount(u)
			out[a] = append(out[a], stageUser{Name: u, Password: pw, Permission: perms[u]})
		}
	}
	return out
}

// Passwords returns the client port's users and passwords (nil for a hub
// without credentials or loaded from a file).
func (h *Hub) Passwords() map[string]string {
	if h.cfg.ConfigFile != "" {
		return nil
	}
	return maps.Clone(h.cfg.Passwords)
}

// ClientURL is where stages connect, e.g. nats://127.0.0.1:4222.
func (h *Hub) ClientURL() string { return url("nats", h.opts.Host, h.opts.Port) }

// LeafURL is the leafnode listener, without credentials.
func (h *Hub) LeafURL() string {
	return url("nats-leaf", h.opts.LeafNode.Host, h.opts.LeafNode.Port)
}

// LeafRemote is LeafURL with the leaf clusters' credentials, ready for
// LeafConfig.Remotes. A hub loaded from a file has no known credentials, so
// it returns LeafURL.
func (h *Hub) LeafRemote() string {
	if h.cfg.ConfigFile != "" {
		return h.LeafURL()
	}
	u := h.LeafURL()
	return u[:len("nats-leaf://")] + h.cfg.LeafUser + ":" + h.cfg.LeafPassword + "@" + u[len("nats-leaf://"):]
}

// userTemplate renders a stageUser of the client port.
var userTemplate = template.Must(template.Must(tlsTemplate.Clone()).New("user").Parse(
	`{user: {{q .Name}}, password: {{q .Password}}, allowed_connection_types: ["STANDARD"],
        permissions: {publish: {allow: [{{join .Publish}}]}, subscribe: {allow: [{{join .Subscribe}}]}}}`))

// hubTemplate mirrors nats.conf at the repository root.
var hubTemplate = template.Must(template.Must(userTemplate.Clone()).New("hub").Parse(`
server_name: {{q .C.Name}}
listen: {{.Client}}
{{- if .Monitor}}
http: {{.Monitor}}
{{- end}}
max_connections: {{.C.MaxConnections}}
max_subscriptions: {{.C.LeafMaxSubscriptions}}
max_payload: {{.C.MaxPayload}}
write_deadline: "{{.C.WriteTimeout}}"
jetstream {
  store_dir: {{q .Store}}
  sync_interval: always
  domain: {{q .Domain}}
}
accounts {
  STAGES {
    jetstream: enabled
    limits: {max_subscriptions: {{.C.MaxSubscriptions}}}
    users: [
{{- range index .Users "STAGES"}}
      {{template "user" .}}
{{- else}}
      {user: {{q .C.StageUser}}, allowed_connection_types: ["STANDARD"]}
{{- end}}
    ]
    exports: [
      {stream: {{q .Live}}}
      {service: {{q .Get}}}
      {service: {{q .Next}}}
{{- range .Exports}}
      {service: {{q .Subject}}, accounts: [{{join .Accounts}}]{{if .Streamed}}, response_type: stream, response_threshold: {{q $.Threshold}}{{end}}}
{{- end}}
    ]
    imports: [{stream: {account: LEAF, subject: {{q .Viewers}}}}]
  }
  LEAF {
    users: [
      {user: {{q .C.LeafUser}}, password: {{q .C.LeafPassword}}, allowed_connection_types: ["LEAFNODE"],
        permissions: {publish: {allow: [{{join .LeafPublish}}]}, subscribe: {allow: [{{join .Allow}}]}}}
{{- range index .Users "LEAF"}}
      {{template "user" .}}
{{- end}}
    ]
    exports: [{stream: {{q .Viewers}}}]
    imports: [
      {stream: {account: STAGES, subject: {{q .Live}}}}
      {service: {account: STAGES, subject: {{q .Get}}}}
      {service: {account: STAGES, subject: {{q .Next}}}}
    ]
  }
{{- range .Readers}}
  {{.Name}} {
    limits: {max_subscriptions: {{$.C.MaxSubscriptions}}}
    users: [
{{- range index $.Users .Name}}
      {{template "user" .}}
{{- end}}
    ]
    imports: [
{{- range .Services}}
      {service: {account: STAGES, subject: {{q .}}}}
{{- end}}
    ]
  }
{{- end}}
}
{{- if not .C.Passwords}}
no_auth_user: {{q .C.StageUser}}
{{- else if .C.AnonymousAdmin}}
no_auth_user: {{q .Admin}}
{{- end}}
{{- with .C.ClientTLS}}{{if .Cert}}
tls { {{template "tls" .}} }
{{- end}}{{end}}
leafnodes {
  listen: {{.Leaf}}
{{- with .C.LeafTLS}}{{if .Cert}}
  tls { {{template "tls" .}} }
{{- end}}{{end}}
}
`))
