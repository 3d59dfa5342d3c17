package fanout

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"text/template"
	"time"
)

// Defaults of HubConfig.
const (
	DefaultHubName        = "emostream-hub"
	DefaultDataDir        = "./.emostream"
	DefaultClientListen   = "127.0.0.1:4222"
	DefaultHubLeafListen  = "127.0.0.1:7422"
	DefaultStageUser      = "stages"
	DefaultLeafUser       = "leaf"
	DefaultHubMaxConns    = 1024
	DefaultHubMaxPayload  = 1 << 20
	DefaultHubWriteDeadln = 10 * time.Second
)

// HubConfig builds the hub when no .conf file is given. It renders to the
// same nats-server configuration as the repository's nats.conf.
type HubConfig struct {
	// ConfigFile is a nats-server .conf to load as is. When set, every
	// other field but Logger is ignored.
	ConfigFile string
	// Name is the server name. Zero means "emostream-hub".
	Name string
	// DataDir holds JetStream's store (DataDir/jetstream), fsynced on every
	// write. Zero means "./.emostream".
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
	// StageUser is the stages' user (account STAGES, which has JetStream).
	// Zero means "stages".
	StageUser string
	// StagePassword is the stages' password. Zero means stages connect
	// without credentials (no_auth_user): only for a loopback ClientListen.
	StagePassword string
	// LeafUser is the user leaf clusters connect as (account LEAF). Zero
	// means "leaf".
	LeafUser string
	// LeafPassword is the leaf clusters' password. Zero means a random one,
	// read back with LeafRemote.
	LeafPassword string
	// MaxConnections caps client connections. Zero means 1024.
	MaxConnections int
	// MaxPayload caps a message's size. Zero means 1 MiB.
	MaxPayload int
	// WriteDeadline cuts off a connection that cannot take writes for this
	// long. Zero means 10s.
	WriteDeadline time.Duration
	// Logger receives the server's log. Zero means slog.Default().
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
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "hub")
	text := ""
	if cfg.ConfigFile == "" {
		var err error
		if cfg, err = cfg.withDefaults(); err != nil {
			return nil, err
		}
		if text, err = cfg.render(); err != nil {
			return nil, err
		}
	}
	opts, err := loadOptions(cfg.ConfigFile, text)
	if err != nil {
		return nil, err
	}
	e, err := newEmbedded(opts, log)
	if err != nil {
		return nil, err
	}
	return &Hub{embedded: e, cfg: cfg}, nil
}

func (c HubConfig) withDefaults() (HubConfig, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Name, DefaultHubName)
	def(&c.DataDir, DefaultDataDir)
	def(&c.ClientListen, DefaultClientListen)
	def(&c.LeafListen, DefaultHubLeafListen)
	def(&c.StageUser, DefaultStageUser)
	def(&c.LeafUser, DefaultLeafUser)
	def(&c.LeafPassword, randomSecret())
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultHubMaxConns
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultHubMaxPayload
	}
	if c.WriteDeadline == 0 {
		c.WriteDeadline = DefaultHubWriteDeadln
	}
	return c, c.validate()
}

func (c HubConfig) validate() error {
	for _, s := range []string{c.StageUser, c.LeafUser, c.LeafPassword} {
		if err := checkCredential(s); err != nil {
			return err
		}
	}
	if c.StagePassword != "" {
		if err := checkCredential(c.StagePassword); err != nil {
			return err
		}
	}
	if c.MaxConnections < 0 || c.MaxPayload < 0 || c.WriteDeadline < 0 {
		return fmt.Errorf("fanout: hub limits must not be negative")
	}
	return nil
}

func (c HubConfig) render() (string, error) {
	data := map[string]any{"C": c, "Store": filepath.Join(c.DataDir, "jetstream"),
		"Get": LatestSwarmRequests, "LeafGet": hubLatestSwarmRequests, "Domain": HubDomain, "Live": "emostream.live.>",
		"Allow": []string{"emostream.live.>", serviceReplies, inboxes}}
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

// hubTemplate mirrors nats.conf at the repository root.
var hubTemplate = template.Must(template.New("hub").Funcs(confFuncs).Parse(`
server_name: {{q .C.Name}}
listen: {{.Client}}
{{- if .Monitor}}
http: {{.Monitor}}
{{- end}}
max_connections: {{.C.MaxConnections}}
max_payload: {{.C.MaxPayload}}
write_deadline: "{{.C.WriteDeadline}}"
jetstream {
  store_dir: {{q .Store}}
  sync_interval: always
  domain: {{q .Domain}}
}
accounts {
  STAGES {
    jetstream: enabled
    users: [{user: {{q .C.StageUser}}{{if .C.StagePassword}}, password: {{q .C.StagePassword}}{{end}}, allowed_connection_types: ["STANDARD"]}]
    exports: [{stream: {{q .Live}}}, {service: {{q .Get}}}]
  }
  LEAF {
    users: [{user: {{q .C.LeafUser}}, password: {{q .C.LeafPassword}}, allowed_connection_types: ["LEAFNODE"],
      permissions: {publish: {allow: [{{q .LeafGet}}]}, subscribe: {allow: [{{join .Allow}}]}}}]
    imports: [
      {stream: {account: STAGES, subject: {{q .Live}}}}
      {service: {account: STAGES, subject: {{q .Get}}}}
    ]
  }
}
{{- if not .C.StagePassword}}
no_auth_user: {{q .C.StageUser}}
{{- end}}
leafnodes {
  listen: {{.Leaf}}
}
`))
