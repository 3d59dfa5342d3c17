package fanout

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"text/template"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// Users of the hub's client port: one per stage role, each with the least
// permissions its stage needs (Permissions), in the account UserAccount
// names.
const (
	// UserIngest reads the match registry.
	UserIngest = "ingest"
	// UserBridge publishes partials.
	UserBridge = "bridge"
	// UserProcessor consumes partials and publishes swarms.
	UserProcessor = "processor"
	// UserAdmin manages the match registry (emostream match, ingest's
	// admin API and --auto-matches).
	UserAdmin = "admin"
	// UserEdge is a viewer edge (emostream edge) connected to the hub: it
	// reads live swarms, asks for stored ones and reports its viewers, as
	// a leaf cluster does and in the leaves' account.
	UserEdge = "edge"
	// UserMonitor is an operator's read-only view of the hub (the NATS
	// CLI): it lists and reads streams, consumers, key-value buckets and
	// their messages, and can change, publish or create nothing. It is
	// alone in its own account.
	UserMonitor = "monitor"
)

// Accounts of the hub. nats-server lets a requester choose any reply
// subject, and sends the answer to it in the account that answered: a
// user of STAGES, which holds the streams, could aim a JetStream answer at
// a stream's subject and have it stored. So the three users that may only
// read (ingest, edge and monitor) are in other accounts, and reach the
// JetStream API they use through service imports from STAGES, whose
// answers go back to the reply subject in their own account, where no
// stream listens.
const (
	// AccountStages has JetStream and the pipeline's writing stage users
	// (bridge, processor, admin).
	AccountStages = "STAGES"
	// AccountIngest has the internet-facing ingest: ingestRead, imported.
	AccountIngest = "INGEST"
	// AccountLeaf has the leaf clusters and the hub's edges: live swarms,
	// the two swarm reads, occupancy reports.
	AccountLeaf = "LEAF"
	// AccountMonitor has the read-only operator: monitorRead, imported.
	AccountMonitor = "MONITOR"
)

// UserAccount is the account of a user of the hub's client port.
func UserAccount(user string) string {
	switch user {
	case UserIngest:
		return AccountIngest
	case UserEdge:
		return AccountLeaf
	case UserMonitor:
		return AccountMonitor
	}
	return AccountStages
}

// StageUsers lists the client port's users in pipeline order, the
// operator's read-only user last.
var StageUsers = []string{UserIngest, UserBridge, UserProcessor, UserAdmin, UserEdge, UserMonitor}

// ErrNoCredentials is returned for a hub whose client port would take
// clients without credentials on a non-loopback address. It wraps
// ErrConfig.
var ErrNoCredentials = fmt.Errorf("%w: the hub's client port is not on a loopback address but takes clients without credentials", ErrConfig)

// Permission is what one user may publish and subscribe to.
type Permission struct {
	Publish, Subscribe []string
}

// JetStream API subjects, per stream.
const (
	jsAPI = "$JS.API."
	kv    = "KV_" + wire.MatchesBucket
)

func streamInfo(s string) string   { return jsAPI + "STREAM.INFO." + s }
func streamCreate(s string) string { return jsAPI + "STREAM.CREATE." + s }
func streamUpdate(s string) string { return jsAPI + "STREAM.UPDATE." + s }
func directGet(s string) string    { return jsAPI + "DIRECT.GET." + s }

// registryRead is what reading the match bucket takes: bind (stream info),
// get and follow it (direct gets, batched: registry.Registry.Run). No
// consumer: its create request names the deliver subject in its body,
// which no permission checks, so a consumer could deliver the bucket into
// any subject of STAGES.
var registryRead = []string{
	streamInfo(kv), directGet(kv), directGet(kv) + ".>", jsAPI + "STREAM.MSG.GET." + kv,
}

// registryWatch is what an admin's watch of the bucket takes (nats kv
// watch, a key listing): an ordered push consumer with flow control.
var registryWatch = []string{
	jsAPI + "CONSUMER.CREATE." + kv + ".>", jsAPI + "CONSUMER.DELETE." + kv + ".>",
	jsAPI + "CONSUMER.INFO." + kv + ".>", "$JS.FC." + kv + ".>",
}

// ingestRead is what ingest may ask JetStream: registryRead and the
// timeline's direct gets.
var ingestRead = join(registryRead, []string{directGet(wire.TimelineStream), directGet(wire.TimelineStream) + ".>"})

// ingestImports are the services INGEST imports from STAGES: ingestRead and
// $JS.API.INFO, which ingest may not send. nats-server gives an account
// without JetStream that does not import $JS.API.INFO an import of all of
// $JS.API.> from the system account, answering "JetStream not enabled",
// and that import wins over INGEST's own for the API's requests.
var ingestImports = append(slices.Clip(ingestRead), jsAPI+"INFO")

// serviceExport is one service STAGES exports, and to which accounts.
type serviceExport struct {
	Subject  string
	Accounts []string
	// Streamed lets an answer be several messages (response_type: stream):
	// the batch direct gets of the timeline and of the registry's bucket
	// (timeline.Reader.Scan). nats-server
	// keeps each such request's way back for streamedThreshold.
	Streamed bool
}

// streamedThreshold is how long a streamed export's requests may be
// answered: twice timeline.Reader's default wait for one batch.
const streamedThreshold = "10s"

// stagesExports are the services STAGES exports to MONITOR and INGEST, one
// entry per subject (nats-server keeps the last of two for one subject).
func stagesExports() []serviceExport {
	var out []serviceExport
	for _, s := range monitorRead {
		out = append(out, serviceExport{Subject: s, Accounts: []string{AccountMonitor}})
	}
	for _, s := range ingestImports {
		if i := slices.IndexFunc(out, func(e serviceExport) bool { return e.Subject == s }); i >= 0 {
			out[i].Accounts = append(out[i].Accounts, AccountIngest)
			continue
		}
		out = append(out, serviceExport{Subject: s, Accounts: []string{AccountIngest},
			Streamed: s == directGet(wire.TimelineStream) || s == directGet(kv)})
	}
	return out
}

// monitorRead is what the read-only operator may ask JetStream, of any
// stream of STAGES (which exports exactly these subjects to MONITOR): the account's limits and usage, the streams' and
// consumers' names, lists and information, and single messages (a
// key-value get is a direct get, or a message get on a bucket without
// direct gets). Nothing that creates, changes, deletes or purges, and no
// consumer (reading a stream by consumer, as "nats stream view" or
// listing a bucket's keys do, creates one).
var monitorRead = []string{
	jsAPI + "INFO", jsAPI + "STREAM.LIST", jsAPI + "STREAM.NAMES", jsAPI + "STREAM.INFO.*",
	jsAPI + "CONSUMER.LIST.*", jsAPI + "CONSUMER.NAMES.*", jsAPI + "CONSUMER.INFO.*.*",
	jsAPI + "STREAM.MSG.GET.*", jsAPI + "DIRECT.GET.*", jsAPI + "DIRECT.GET.*.>",
}

// backupRestore is what the NATS CLI's backup and restore of every stream
// take (nats backup account, nats backup restore account: docs/operations.md,
// "Backup and restore"): list the streams and read their info, take a
// snapshot (chunks acknowledged on $JS.SNAPSHOT.ACK), and restore one
// (chunks sent to $JS.SNAPSHOT.RESTORE) of the pipeline's four streams
// only. A restore creates only a stream that does not exist; nothing here
// deletes, purges or changes one.
var backupRestore = []string{
	jsAPI + "STREAM.NAMES", jsAPI + "STREAM.LIST", jsAPI + "STREAM.INFO.*", jsAPI + "STREAM.SNAPSHOT.*",
	"$JS.SNAPSHOT.ACK.>", streamRestore(wire.PartialsStream), streamRestore(wire.SwarmsStream),
	streamRestore(wire.TimelineStream), streamRestore(kv), "$JS.SNAPSHOT.RESTORE.>",
}

func streamRestore(s string) string { return jsAPI + "STREAM.RESTORE." + s }

// Permissions returns each stage user's permissions. Every user may
// subscribe only to reply inboxes: JetStream answers and deliveries come
// there (ingest's have their own prefix, wire.IngestInboxPrefix).
func Permissions() map[string]Permission {
	ps, ss, ts := wire.PartialsStream, wire.SwarmsStream, wire.TimelineStream
	ensure := func(s string) []string { return []string{streamInfo(s), streamCreate(s), streamUpdate(s)} }
	sub := []string{inboxes}
	return map[string]Permission{
		UserIngest: {Publish: ingestRead, Subscribe: []string{wire.IngestInboxes}},
		UserBridge: {Publish: join(ensure(ps), []string{
			wire.PartialsSubjects, directGet(ps) + ".>"}), Subscribe: sub},
		UserProcessor: {Publish: join(ensure(ps), ensure(ss), []string{
			jsAPI + "CONSUMER.CREATE." + ps + ".>", jsAPI + "CONSUMER.INFO." + ps + ".>",
			jsAPI + "CONSUMER.MSG.NEXT." + ps + ".>", "$JS.ACK." + ps + ".>", directGet(ps),
			wire.SwarmsSubjects, directGet(ss) + ".>"},
			// the timeline: records, moments, reading them and swarms back
			ensure(ts), []string{wire.TimelineSubjects, wire.MomentsSubjects, directGet(ts), directGet(ts) + ".>", directGet(ss)}),
			Subscribe: []string{inboxes, wire.ViewersSubjects}},
		// admin receives on ingest's inboxes too: an ingest that writes the
		// registry (--auto-matches, the admin API) runs as admin.
		UserAdmin: {Publish: join([]string{jsAPI + "INFO", streamCreate(kv), streamUpdate(kv),
			"$KV." + wire.MatchesBucket + ".>"}, registryRead, registryWatch, backupRestore), Subscribe: []string{inboxes, wire.IngestInboxes}},
		UserEdge:    {Publish: edgePublish(""), Subscribe: []string{wire.LiveSubjects, inboxes}},
		UserMonitor: {Publish: monitorRead, Subscribe: sub},
	}
}

// edgePublish is what an edge publishes: its occupancy reports and the two
// swarm reads, under the JetStream domain (on a leaf) or not (on the hub).
func edgePublish(domain string) []string {
	if domain == "" {
		return []string{wire.ViewersSubjects, wire.LatestSwarmRequests, wire.SwarmsGet}
	}
	return []string{wire.ViewersSubjects, wire.LatestSwarmRequestsIn(domain), hubSwarmsGet}
}

func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TLSConfig is one listener's or connection's TLS: PEM files.
type TLSConfig struct {
	// Cert and Key are this side's certificate and key. A listener needs
	// both; a client sets them to present a client certificate.
	Cert, Key string
	// CA verifies the other side: on a listener, client certificates
	// (then required when Verify is set); on a client, the server.
	CA string
	// Verify makes a listener require a client certificate signed by CA.
	Verify bool
}

func (t TLSConfig) enabled() bool { return t.Cert != "" || t.Key != "" || t.CA != "" }

// rules are the rules of t, the setting name: a listener's (listener) needs
// a certificate once anything is set.
func (t TLSConfig) rules(name string, listener bool) []setting.Rule {
	if !t.enabled() {
		return nil
	}
	return setting.Under(name,
		setting.Check("Key", setting.Text(t.Key), (t.Cert == "") == (t.Key == ""), "want both a certificate and a key, or neither"),
		setting.Check("Cert", setting.Text(t.Cert), !listener || t.Cert != "", "want a certificate and a key for a listener"),
		setting.Check("CA", setting.Text(t.CA), !t.Verify || t.CA != "", "want a CA to verify client certificates (Verify)"),
		fileName("Cert", t.Cert), fileName("Key", t.Key), fileName("CA", t.CA),
	)
}

// fileName is the rule that a file name can be written into a .conf string.
func fileName(name, f string) setting.Rule {
	return setting.Check(name, f, !strings.ContainsAny(f, "\"\\\n"), "want a file name without quotes, backslashes or newlines")
}

// isLoopback reports whether a listen host only takes local connections.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkExposed refuses a client port on a non-loopback address that takes
// clients without credentials: no users at all, or a no_auth_user.
func checkExposed(o *server.Options) error {
	if isLoopback(o.Host) {
		return nil
	}
	open := o.NoAuthUser != "" || len(o.Users) == 0 && len(o.Nkeys) == 0 &&
		o.Username == "" && o.Authorization == "" && len(o.TrustedOperators) == 0 && len(o.TrustedKeys) == 0
	if open {
		return fmt.Errorf("%w (%s): give the stages credentials (docs/operations.md, \"Stage credentials\")", ErrNoCredentials, o.Host)
	}
	return nil
}

// tlsTemplate renders a TLSConfig's fields inside a tls {} block.
var tlsTemplate = template.Must(template.New("tls").Funcs(confFuncs).Parse(
	`{{if .Cert}}cert_file: {{q .Cert}}, key_file: {{q .Key}}{{end}}` +
		`{{if .CA}}{{if .Cert}}, {{end}}ca_file: {{q .CA}}{{end}}{{if .Verify}}, verify: true{{end}}`))
