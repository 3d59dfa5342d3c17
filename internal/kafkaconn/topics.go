package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"

	"github.com/emostream/emostream/internal/setting"
)

// Topic administration over the Kafka admin protocol (Metadata,
// CreateTopics, CreatePartitions), for "emostream topic": what
// kafka-topics.sh does, without the Kafka tools the jar-only install
// lacks, through the same TLS and SASL as the stages.

// Bounds of a TopicSpec and of AddPartitions: a mistyped count must not
// create a hundred thousand partitions on a shared cluster.
const (
	MaxPartitions        = 4096
	MaxReplicationFactor = 7
	// maxTopicName is Kafka's longest topic name.
	maxTopicName = 249
)

// AdminTimeout bounds each admin request, its connection included.
const AdminTimeout = 30 * time.Second

var (
	// ErrTopicSpec is wrapped by the errors of a TopicSpec or a partition
	// count that is refused before anything is sent; they name the
	// setting (package setting).
	ErrTopicSpec = errors.New("kafkaconn: invalid topic")
	// ErrNoTopic is wrapped when the topic does not exist.
	ErrNoTopic = errors.New("kafkaconn: no such topic")
	// ErrShrink is wrapped when AddPartitions is asked for fewer
	// partitions than the topic has: Kafka cannot remove partitions.
	ErrShrink = errors.New("kafkaconn: a topic's partitions cannot be removed")
)

// topicName is Kafka's rule for topic names.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// TopicSpec is a topic to create.
type TopicSpec struct {
	// Name is the topic: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
	Name string
	// Partitions is the partition count, 1 to MaxPartitions.
	Partitions int
	// ReplicationFactor is how many brokers hold each partition, 1 to
	// MaxReplicationFactor (and at most the brokers there are).
	ReplicationFactor int
	// Configs are topic settings (min.insync.replicas=2, …); nil means the
	// brokers' defaults.
	Configs map[string]string
}

// Validate refuses a spec out of bounds, naming the setting; its errors
// wrap ErrTopicSpec. CreateTopic calls it first.
func (s TopicSpec) Validate() error { return setting.First(ErrTopicSpec, s.rules()...) }

func (s TopicSpec) rules() []setting.Rule {
	return []setting.Rule{
		nameRule(s.Name),
		setting.Between("Partitions", s.Partitions, 1, MaxPartitions),
		setting.Between("ReplicationFactor", s.ReplicationFactor, 1, MaxReplicationFactor),
	}
}

func nameRule(name string) setting.Rule {
	ok := len(name) <= maxTopicName && topicName.MatchString(name) && name != "." && name != ".."
	return setting.Check("Name", name, ok, fmt.Sprintf("want 1 to %d of a-z, A-Z, 0-9, '.', '_' and '-', not . or ..", maxTopicName))
}

// Partition is one partition of a topic as the cluster's metadata
// describes it: node IDs, Leader -1 when it has none.
type Partition struct {
	ID                     int32
	Leader                 int32
	Epoch                  int32
	Replicas, ISR, Offline []int32
	// Err is the partition's error in the metadata (LEADER_NOT_AVAILABLE
	// while a leader is elected), or nil.
	Err error
}

// UnderReplicated reports whether some replica of p is out of sync.
func (p Partition) UnderReplicated() bool { return len(p.ISR) < len(p.Replicas) }

// TopicInfo is a topic as the cluster's metadata describes it, its
// partitions in order, and the brokers registered in the cluster.
type TopicInfo struct {
	Name       string
	Partitions []Partition
	Brokers    []Broker
	Controller int32
}

// Broker is a broker of the cluster: its node ID and address.
type Broker struct {
	ID   int32
	Addr string
}

// adminClientID is the Kafka client ID of the admin requests.
const adminClientID = "emostream-topic"

// explainAdmin is Explain for an admin request's error: kafka-go's
// Transport reports a refused SASL exchange as a closed connection, so
// with TLS or SASL it asks the brokers once more as Check does, and
// returns their refusal (wrapping ErrRefused) if that is what it was.
func (c Conn) explainAdmin(ctx context.Context, brokers []string, err error) error {
	if err = c.Explain(err); errors.Is(err, ErrRefused) || !c.Secure() || errors.Is(err, context.Canceled) {
		return err
	}
	if cerr := c.Check(ctx, brokers, adminClientID); errors.Is(cerr, ErrRefused) {
		return cerr
	}
	return err
}

// admin is a kafka-go client through c, new for each operation: kafka-go's
// Transport answers metadata requests from a cache it refreshes every few
// seconds, and an operation must see the cluster as it is now.
func (c Conn) admin(brokers []string) (*kafka.Client, func()) {
	tr := c.Transport(adminClientID)
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: AdminTimeout, Transport: tr}, tr.CloseIdleConnections
}

// DescribeTopic returns topic as the cluster's metadata describes it: its
// partitions, each with its leader, replicas, in-sync replicas and offline
// replicas. A topic that does not exist wraps ErrNoTopic.
func (c Conn) DescribeTopic(ctx context.Context, brokers []string, topic string) (TopicInfo, error) {
	if err := setting.First(ErrTopicSpec, nameRule(topic)); err != nil {
		return TopicInfo{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, AdminTimeout)
	defer cancel()
	cl, done := c.admin(brokers)
	defer done()
	res, err := cl.Transport.RoundTrip(ctx, cl.Addr, &metadataAPI.Request{TopicNames: []string{topic}})
	if err != nil {
		return TopicInfo{}, fmt.Errorf("describing topic %s: %w", topic, c.explainAdmin(ctx, brokers, err))
	}
	return topicInfo(res.(*metadataAPI.Response), topic)
}

// topicInfo is topic's part of a metadata answer.
func topicInfo(m *metadataAPI.Response, topic string) (TopicInfo, error) {
	info := TopicInfo{Name: topic, Controller: m.ControllerID}
	for _, b := range m.Brokers {
		info.Brokers = append(info.Brokers, Broker{ID: b.NodeID, Addr: net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))})
	}
	slices.SortFunc(info.Brokers, func(a, b Broker) int { return int(a.ID - b.ID) })
	i := slices.IndexFunc(m.Topics, func(t metadataAPI.ResponseTopic) bool { return t.Name == topic })
	if i < 0 || kafka.Error(m.Topics[i].ErrorCode) == kafka.UnknownTopicOrPartition {
		return info, fmt.Errorf("%w: %s", ErrNoTopic, topic)
	}
	if code := m.Topics[i].ErrorCode; code != 0 {
		return info, fmt.Errorf("describing topic %s: %w", topic, kafka.Error(code))
	}
	for _, p := range m.Topics[i].Partitions {
		info.Partitions = append(info.Partitions, Partition{ID: p.PartitionIndex, Leader: p.LeaderID, Epoch: p.LeaderEpoch,
			Replicas: p.ReplicaNodes, ISR: p.IsrNodes, Offline: p.OfflineReplicas, Err: codeError(p.ErrorCode)})
	}
	slices.SortFunc(info.Partitions, func(a, b Partition) int { return int(a.ID - b.ID) })
	return info, nil
}

// codeError is a Kafka error code as an error; nil for 0.
func codeError(code int16) error {
	if code == 0 {
		return nil
	}
	return kafka.Error(code)
}

// CreateTopic creates the topic spec describes and waits, at most
// AdminTimeout, until every partition has a leader. A topic that exists
// already is an error (kafka.TopicAlreadyExists), whatever its settings.
func (c Conn) CreateTopic(ctx context.Context, brokers []string, spec TopicSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	tc := kafka.TopicConfig{Topic: spec.Name, NumPartitions: spec.Partitions, ReplicationFactor: spec.ReplicationFactor}
	for _, k := range sortedKeys(spec.Configs) {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: spec.Configs[k]})
	}
	cl, done := c.admin(brokers)
	defer done()
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err == nil {
		err = res.Errors[spec.Name]
	}
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", spec.Name, c.explainAdmin(ctx, brokers, err))
	}
	return c.waitLeaders(ctx, brokers, spec.Name, spec.Partitions)
}

// AddPartitions grows topic to total partitions and returns how many it
// had. Kafka cannot remove partitions: fewer than it has wraps ErrShrink,
// and as many as it has changes nothing.
func (c Conn) AddPartitions(ctx context.Context, brokers []string, topic string, total int) (had int, err error) {
	if err := setting.First(ErrTopicSpec, nameRule(topic), setting.Between("Partitions", total, 1, MaxPartitions)); err != nil {
		return 0, err
	}
	info, err := c.DescribeTopic(ctx, brokers, topic)
	if had = len(info.Partitions); err != nil || total == had {
		return had, err
	}
	if total < had {
		return had, fmt.Errorf("%w: %s has %d partitions, %d would remove %d (create a new topic instead)", ErrShrink, topic, had, total, had-total)
	}
	cl, done := c.admin(brokers)
	defer done()
	res, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: int32(total)}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		return had, fmt.Errorf("adding partitions to %s: %w", topic, c.explainAdmin(ctx, brokers, err))
	}
	return had, c.waitLeaders(ctx, brokers, topic, total)
}

// waitLeaders waits, at most AdminTimeout, until every broker's metadata
// shows topic with partitions partitions, each with a leader: each
// broker learns of a change on its own, and a client may ask any of them
// (the next AddPartitions among others).
func (c Conn) waitLeaders(ctx context.Context, brokers []string, topic string, partitions int) error {
	ctx, cancel := context.WithTimeout(ctx, AdminTimeout)
	defer cancel()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := c.led(ctx, brokers, topic, partitions)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s: waiting for a leader of each of %d partitions: %w (last: %v)", topic, partitions, ctx.Err(), err)
		case <-time.After(wait): // a poll interval
		}
	}
}

// led is nil when every broker's metadata (the brokers that those of
// brokers name) shows topic with partitions partitions, each with a
// leader.
func (c Conn) led(ctx context.Context, brokers []string, topic string, partitions int) error {
	info, err := c.DescribeTopic(ctx, brokers, topic)
	if err != nil {
		return err
	}
	for _, b := range info.Brokers {
		seen, err := c.DescribeTopic(ctx, []string{b.Addr}, topic)
		switch {
		case err != nil:
			return fmt.Errorf("broker %d: %w", b.ID, err)
		case len(seen.Partitions) != partitions:
			return fmt.Errorf("broker %d: %d partitions", b.ID, len(seen.Partitions))
		case slices.ContainsFunc(seen.Partitions, func(p Partition) bool { return p.Leader < 0 }):
			return fmt.Errorf("broker %d: a partition without a leader", b.ID)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
