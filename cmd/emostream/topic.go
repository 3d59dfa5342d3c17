package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{name: "topic", summary: "describe, create or grow the events topic on Kafka (no Kafka tools needed)", run: runTopic})
}

const topicSynopsis = `Describes, creates or grows a Kafka topic over the Kafka admin protocol,
without kafka-topics.sh (which the jar-only install of
scripts/kafka-cluster.sh lacks), with the same --kafka-… TLS and SASL flags
as the stages (docs/operations.md, "Topic operations").

  emostream topic describe       [--topic T] [--json]     partitions, leaders, replicas, in-sync replicas
  emostream topic create         [--topic T] [--partitions 8] [--replication-factor 3] [--config k=v,…]
  emostream topic add-partitions [--topic T] --partitions N   N is the new total; Kafka cannot remove partitions

create sets min.insync.replicas=min(2, replication factor) and
unclean.leader.election.enable=false, the settings EmoStream's guarantees
rest on, unless --config says otherwise. After add-partitions, restart one
bridge so that the consumer group takes the new partitions.`

// Defaults of emostream topic.
const (
	defaultTopicRF = 3
	// topicMinISR is the min.insync.replicas create sets, at most the
	// replication factor.
	topicMinISR = 2
)

// topicFlags are the flags of "emostream topic <mode>".
type topicFlags struct {
	mode, brokers, topic, configs string
	partitions, rf                int
	asJSON                        bool
	security                      *kafkaSecurityFlags
}

// addTopicFlags adds the flags of mode; false for an unknown mode.
func addTopicFlags(fs *flag.FlagSet, mode string) (*topicFlags, bool) {
	f := &topicFlags{mode: mode}
	fs.StringVar(&f.brokers, "kafka-brokers", defaultKafkaAddr, "Kafka bootstrap brokers, host:port,...")
	fs.StringVar(&f.topic, "topic", wire.DefaultTopic, "the topic")
	switch mode {
	case "describe":
		fs.BoolVar(&f.asJSON, "json", false, "print JSON instead of a table")
	case "create":
		fs.IntVar(&f.partitions, "partitions", wire.DefaultPartitions, fmt.Sprintf("partitions, 1 to %d", kafkaconn.MaxPartitions))
		fs.IntVar(&f.rf, "replication-factor", defaultTopicRF, fmt.Sprintf("replicas of each partition, 1 to %d and at most the brokers", kafkaconn.MaxReplicationFactor))
		fs.StringVar(&f.configs, "config", "", "topic settings, name=value,…, over min.insync.replicas=min(2, --replication-factor) and unclean.leader.election.enable=false")
	case "add-partitions":
		fs.IntVar(&f.partitions, "partitions", 0, fmt.Sprintf("the new partition count, more than the topic has, at most %d (required)", kafkaconn.MaxPartitions))
	default:
		return nil, false
	}
	f.security = addKafkaSecurityFlags(fs)
	return f, true
}

// spec is the topic create makes.
func (f *topicFlags) spec() (kafkaconn.TopicSpec, error) {
	s := kafkaconn.TopicSpec{Name: f.topic, Partitions: f.partitions, ReplicationFactor: f.rf, Configs: map[string]string{
		"min.insync.replicas":            strconv.Itoa(max(1, min(topicMinISR, f.rf))),
		"unclean.leader.election.enable": "false",
	}}
	for _, kv := range splitList(f.configs) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return s, fmt.Errorf("topic: --config %q: want name=value", kv)
		}
		s.Configs[k] = v
	}
	return s, nil
}

// topicSettings names the flags that set kafkaconn.TopicSpec's fields.
var topicSettings = settingFlags{kafkaconn.ErrTopicSpec, map[string]string{"Name": "topic", "Partitions": "partitions", "ReplicationFactor": "replication-factor"}}

func runTopic(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.stderr, "Usage: emostream topic describe|create|add-partitions [flags]\n\n"+topicSynopsis)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	fs := newFlags(env, "topic "+args[0], topicSynopsis)
	f, ok := addTopicFlags(fs, args[0])
	if !ok {
		fmt.Fprintf(env.stderr, "emostream topic: unknown subcommand %q: want describe, create or add-partitions (see emostream topic --help)\n", args[0])
		return errUsage
	}
	if err := parseFlags(fs, env, args[1:]); err != nil {
		return err
	}
	sec, err := f.security.security(env)
	if err != nil {
		return err
	}
	conn, err := sec.Build()
	if err != nil {
		return fmt.Errorf("topic: --kafka-…: %w", err)
	}
	if err := f.do(ctx, env.stdout, conn, splitList(f.brokers)); err != nil {
		return fmt.Errorf("topic %s: %w", f.mode, flagError(err, topicSettings))
	}
	return nil
}

// do runs the mode through conn on brokers and prints what it found or did.
func (f *topicFlags) do(ctx context.Context, w io.Writer, conn kafkaconn.Conn, brokers []string) error {
	switch f.mode {
	case "create":
		spec, err := f.spec()
		if err != nil {
			return err
		}
		if err := conn.CreateTopic(ctx, brokers, spec); err != nil {
			return err
		}
		fmt.Fprintf(w, "created topic %s: %d partitions, replication factor %d, %s\n", spec.Name, spec.Partitions, spec.ReplicationFactor, showConfigs(spec.Configs))
	case "add-partitions":
		had, err := conn.AddPartitions(ctx, brokers, f.topic, f.partitions)
		if err != nil {
			return err
		}
		printGrown(w, f.topic, had, f.partitions)
	default:
		info, err := conn.DescribeTopic(ctx, brokers, f.topic)
		if err != nil {
			return err
		}
		if f.asJSON {
			return printTopicJSON(w, info)
		}
		printTopic(w, info)
	}
	return nil
}

// showConfigs is configs as name=value, sorted, comma-separated.
func showConfigs(configs map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		out = append(out, k+"="+configs[k])
	}
	return strings.Join(out, ", ")
}

// printGrown says what add-partitions did, and what the stages need.
func printGrown(w io.Writer, topic string, had, now int) {
	if had == now {
		fmt.Fprintf(w, "topic %s already has %d partitions: nothing to do\n", topic, now)
		return
	}
	fmt.Fprintf(w, "topic %s: %d → %d partitions\n", topic, had, now)
	fmt.Fprintln(w, "ingest writes to the new partitions within seconds; restart one bridge so that the group takes them (docs/operations.md, \"Topic operations\")")
}

// printTopic writes info as a table, one row per partition.
func printTopic(w io.Writer, info kafkaconn.TopicInfo) {
	under, rf := 0, 0
	for _, p := range info.Partitions {
		rf = max(rf, len(p.Replicas))
		if p.UnderReplicated() || p.Leader < 0 {
			under++
		}
	}
	ids := make([]int32, len(info.Brokers))
	for i, b := range info.Brokers {
		ids[i] = b.ID
	}
	fmt.Fprintf(w, "topic %s: %d partitions, replication factor %d, %d under-replicated or leaderless; brokers %s (controller %d)\n",
		info.Name, len(info.Partitions), rf, under, nodeList(ids), info.Controller)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tOFFLINE\tERROR")
	for _, p := range info.Partitions {
		leader, errText := strconv.Itoa(int(p.Leader)), ""
		if p.Leader < 0 {
			leader = "none"
		}
		if p.Err != nil {
			errText = p.Err.Error()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.ID, leader, nodeList(p.Replicas), nodeList(p.ISR), nodeList(p.Offline), errText)
	}
	tw.Flush()
}

// nodeList is node IDs comma-separated; "-" for none.
func nodeList(ids []int32) string {
	if len(ids) == 0 {
		return "-"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// topicJSON is the JSON of describe --json.
type topicJSON struct {
	Topic      string          `json:"topic"`
	Controller int32           `json:"controller"`
	Brokers    []brokerJSON    `json:"brokers"`
	Partitions []partitionJSON `json:"partitions"`
}

type brokerJSON struct {
	ID   int32  `json:"id"`
	Addr string `json:"addr"`
}

type partitionJSON struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Epoch     int32   `json:"leader_epoch"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	Offline   []int32 `json:"offline"`
	Error     string  `json:"error,omitempty"`
}

func printTopicJSON(w io.Writer, info kafkaconn.TopicInfo) error {
	out := topicJSON{Topic: info.Name, Controller: info.Controller, Brokers: []brokerJSON{}, Partitions: []partitionJSON{}}
	for _, b := range info.Brokers {
		out.Brokers = append(out.Brokers, brokerJSON(b))
	}
	for _, p := range info.Partitions {
		pj := partitionJSON{Partition: p.ID, Leader: p.Leader, Epoch: p.Epoch, Replicas: orEmpty(p.Replicas), ISR: orEmpty(p.ISR), Offline: orEmpty(p.Offline)}
		if p.Err != nil {
			pj.Error = p.Err.Error()
		}
		out.Partitions = append(out.Partitions, pj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// orEmpty is ids, or an empty list for JSON's [] instead of null.
func orEmpty(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}
