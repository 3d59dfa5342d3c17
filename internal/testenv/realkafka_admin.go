package testenv

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RealTopicConfigs are the topic settings EmoStream's events topic has on a
// real cluster (docs/operations.md, "Running on Apache Kafka"): a write
// acknowledged by acks=all is on at least two replicas, and a replica that
// missed writes never becomes leader.
func (k *RealKafka) RealTopicConfigs() map[string]string {
	return map[string]string{
		"min.insync.replicas":            strconv.Itoa(min(2, len(k.Nodes))),
		"unclean.leader.election.enable": "false",
	}
}

// ReplicationFactor is the events topic's: min(3, nodes).
func (k *RealKafka) ReplicationFactor() int16 { return int16(min(3, len(k.Nodes))) }

// admin is a franz-go client of the nodes that are up, for admin requests.
func (k *RealKafka) admin() (*kgo.Client, error) {
	var seeds []string
	for _, n := range k.Nodes {
		n.mu.Lock()
		up := !n.paused
		n.mu.Unlock()
		if up && n.Running() {
			seeds = append(seeds, n.Addr)
		}
	}
	return kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequestTimeoutOverhead(5*time.Second),
		kgo.RetryTimeout(10*time.Second))
}

// request sends one admin request to any node that is up.
func (k *RealKafka) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	cl, err := k.admin()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return cl.Request(ctx, req)
}

// metadata is the cluster's view of topics (nil: none) and brokers.
func (k *RealKafka) metadata(ctx context.Context, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	if len(topics) == 0 {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	resp, err := k.request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// waitBrokers polls until the cluster has n registered brokers.
func (k *RealKafka) waitBrokers(ctx context.Context, n int) error {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		m, err := k.metadata(ctx)
		if err == nil && len(m.Brokers) == n {
			return nil
		}
		for _, node := range k.Nodes {
			if !node.Running() {
				return fmt.Errorf("real kafka: node %d exited:\n%s", node.ID, node.LogTail(30))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("real kafka: %d brokers not registered (last error %v):\n%s", n, err, k.Nodes[0].LogTail(30))
		case <-time.After(wait): // a poll interval
		}
	}
}

// CreateTopic creates topic with partitions, replicated ReplicationFactor
// times with RealTopicConfigs, and waits until every partition has a
// leader and a full ISR.
func (k *RealKafka) CreateTopic(t testing.TB, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := k.createTopic(ctx, topic, partitions); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	WaitFor(t, time.Minute, "topic "+topic+" with a full ISR on every partition", func() bool {
		return k.FullISR(topic, partitions)
	})
}

func (k *RealKafka) createTopic(ctx context.Context, topic string, partitions int32) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, k.ReplicationFactor()
	for name, v := range k.RealTopicConfigs() {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = name, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := k.request(ctx, req)
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	for _, r := range resp.(*kmsg.CreateTopicsResponse).Topics {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil && err != kerr.TopicAlreadyExists {
			return fmt.Errorf("creating topic %s: %w", topic, err)
		}
	}
	return nil
}

// FullISR reports whether every running node's metadata shows every
// partition of topic with a leader and all its replicas in sync (a client
// may ask any of them).
func (k *RealKafka) FullISR(topic string, partitions int32) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := k.admin()
	if err != nil {
		return false
	}
	defer cl.Close()
	for _, n := range k.Nodes {
		if !n.Running() {
			return false
		}
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := cl.Broker(n.ID).Request(ctx, req)
		if err != nil || !fullISR(resp.(*kmsg.MetadataResponse), partitions, k.ReplicationFactor()) {
			return false
		}
	}
	return true
}

func fullISR(m *kmsg.MetadataResponse, partitions int32, rf int16) bool {
	if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != int(partitions) {
		return false
	}
	for _, p := range m.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 || len(p.ISR) != int(rf) {
			return false
		}
	}
	return true
}

// Leader is the node ID that leads a partition of topic, as the cluster's
// metadata says.
func (k *RealKafka) Leader(topic string, partition int32) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := k.metadata(ctx, topic)
	if err != nil {
		return 0, err
	}
	for _, tp := range m.Topics {
		for _, p := range tp.Partitions {
			if p.Partition == partition && p.ErrorCode == 0 && p.Leader >= 0 {
				return int(p.Leader), nil
			}
		}
	}
	return 0, fmt.Errorf("real kafka: no leader of %s/%d", topic, partition)
}

// ActiveController is the node ID of the KRaft quorum's leader, the active
// controller (DescribeQuorum, which a broker forwards to the controllers).
func (k *RealKafka) ActiveController() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := k.request(ctx, req)
	if err != nil {
		return 0, err
	}
	r := resp.(*kmsg.DescribeQuorumResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return 0, err
	}
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].LeaderID < 0 {
		return 0, fmt.Errorf("real kafka: no quorum leader in %+v", r)
	}
	return int(r.Topics[0].Partitions[0].LeaderID), nil
}

// GroupCoordinator is the node ID that coordinates a consumer group: the
// leader of its partition of __consumer_offsets.
func (k *RealKafka) GroupCoordinator(group string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey, req.CoordinatorKeys = group, []string{group}
	resp, err := k.request(ctx, req)
	if err != nil {
		return 0, err
	}
	r := resp.(*kmsg.FindCoordinatorResponse)
	if len(r.Coordinators) == 1 { // v4+
		if err := kerr.ErrorForCode(r.Coordinators[0].ErrorCode); err != nil {
			return 0, err
		}
		return int(r.Coordinators[0].NodeID), nil
	}
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return 0, err
	}
	return int(r.NodeID), nil
}
