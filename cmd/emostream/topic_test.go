package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestTopicCommand drives describe, create and add-partitions against the
// embedded broker, over TLS with SCRAM-SHA-512 as the stages connect: the
// table and the JSON show every partition with its leader, replicas and
// ISR; a second create, a shrink, a missing count and a wrong password are
// refused with what is wrong, and change nothing.
func TestTopicCommand(t *testing.T) {
	certs := testenv.NewCerts(t)
	for _, m := range testenv.KafkaSecurityModes(t, certs, "admin") {
		if m.Name != "tls + scram-sha-512" {
			continue
		}
		k := testenv.StartSecureKafka(t, 8, m.Broker)
		vars := map[string]string{kafkaPasswordEnv: testenv.KafkaPassword}
		run := func(args ...string) (string, error) {
			var out testenv.LogBuffer
			err := runCommandTo(t, &out, vars, append(append([]string{"topic"}, args...), "--kafka-brokers", k.Addr(),
				"--kafka-ca", certs.CAFile, "--kafka-sasl", "scram-sha-512", "--kafka-user", "admin")...)
			return out.String(), err
		}
		topicCommand(t, run)
		vars[kafkaPasswordEnv] = "wrong"
		if _, err := run("describe"); err == nil || !strings.Contains(err.Error(), "wrong user or password") {
			t.Errorf("a wrong password: %v", err)
		}
	}
}

func topicCommand(t *testing.T, run func(args ...string) (string, error)) {
	out, err := run("describe")
	if err != nil || !strings.Contains(out, "topic "+wire.DefaultTopic+": 8 partitions, replication factor 1, 0 under-replicated") ||
		!strings.Contains(out, "PARTITION  LEADER  REPLICAS  ISR  OFFLINE") || strings.Count(out, "\n") != 10 {
		t.Errorf("describe: %v\n%s", err, out)
	}
	out, err = run("describe", "--json")
	var desc topicJSON
	if err != nil || json.Unmarshal([]byte(out), &desc) != nil || len(desc.Partitions) != 8 || desc.Partitions[7].Partition != 7 ||
		len(desc.Partitions[7].ISR) != 1 || desc.Partitions[7].Leader != desc.Partitions[7].ISR[0] {
		t.Errorf("describe --json: %v %+v\n%s", err, desc, out)
	}
	out, err = run("create", "--topic", "t2", "--partitions", "3", "--replication-factor", "1")
	if err != nil || !strings.Contains(out, "created topic t2: 3 partitions, replication factor 1, min.insync.replicas=1, unclean.leader.election.enable=false") {
		t.Errorf("create: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--topic", "t2", "--replication-factor", "1"}, "Topic Already Exists"},
		{[]string{"create", "--topic", "t3", "--partitions", "0"}, "topic create: --partitions 0: want 1 to 4096"},
		{[]string{"create", "--topic", "bad/name"}, `topic create: --topic "bad/name"`},
		{[]string{"create", "--topic", "t3", "--config", "novalue"}, `--config "novalue": want name=value`},
		{[]string{"add-partitions", "--topic", "t2"}, "topic add-partitions: --partitions 0: want 1 to 4096"},
		{[]string{"add-partitions", "--topic", "t2", "--partitions", "2"}, "cannot be removed: t2 has 3 partitions, 2 would remove 1"},
		{[]string{"describe", "--topic", "absent"}, "no such topic: absent"},
	} {
		if _, err := run(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if out, err := run("add-partitions", "--topic", "t2", "--partitions", "5"); err != nil || !strings.Contains(out, "topic t2: 3 → 5 partitions") {
		t.Errorf("add-partitions: %v\n%s", err, out)
	}
	if out, err := run("add-partitions", "--topic", "t2", "--partitions", "5"); err != nil || !strings.Contains(out, "already has 5 partitions: nothing to do") {
		t.Errorf("add-partitions again: %v\n%s", err, out)
	}
	if out, err := run("describe", "--topic", "t2"); err != nil || !strings.Contains(out, "topic t2: 5 partitions") {
		t.Errorf("describe t2: %v\n%s", err, out)
	}
	if _, err := run("shrink"); err == nil {
		t.Error("an unknown mode was taken")
	}
}
