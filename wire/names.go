package wire

import (
	"strconv"
	"time"
)

// Names of the Kafka topic, JetStream streams and NATS subjects.
const (
	// DefaultTopic is the Kafka topic that holds every accepted event.
	DefaultTopic = "emostream.events"
	// DefaultPartitions is the partition count the embedded broker creates
	// the topic with.
	DefaultPartitions = 8
	// DefaultGroup is the Kafka consumer group of the bridges.
	DefaultGroup = "emostream-bridge"

	// PartialsStream is the JetStream stream of bridge partials.
	PartialsStream = "EMOSTREAM_PARTIALS"
	// PartialsSubjects is the subject filter of PartialsStream.
	PartialsSubjects = "emostream.partials.>"
	// SwarmsStream is the JetStream stream of processor swarms.
	SwarmsStream = "EMOSTREAM_SWARMS"
	// SwarmsSubjects is the subject filter of SwarmsStream.
	SwarmsSubjects = "emostream.swarm.>"
	// MatchesBucket is the JetStream key-value bucket of the match
	// registry: key = match id, value = registry.Match as JSON.
	MatchesBucket = "EMOSTREAM_MATCHES"
	// LiveSubjects is what SwarmsStream republishes to and viewers subscribe to.
	LiveSubjects = "emostream.live.>"
	// IngestInboxPrefix is the reply-inbox prefix of ingest's connections
	// to the hub (nats.CustomInboxPrefix): the answers of its JetStream
	// reads, imported from the hub's streams account, come to
	// IngestInboxes, the one subject user ingest may subscribe to.
	IngestInboxPrefix = "_INBOX_INGEST"
	// IngestInboxes matches every inbox of IngestInboxPrefix.
	IngestInboxes = IngestInboxPrefix + ".>"

	// LatestSwarmRequests matches LatestSwarmRequest of every match: the
	// one request a viewer may make.
	LatestSwarmRequests = jsAPIPrefix + latestSwarmGet

	partialPrefix  = "emostream.partials."
	swarmPrefix    = "emostream.swarm."
	livePrefix     = "emostream.live."
	jsAPIPrefix    = "$JS.API."
	directGet      = "DIRECT.GET." + SwarmsStream + "."
	latestSwarmGet = directGet + swarmPrefix + "*"
)

// Defaults shared by several stages.
const (
	// DefaultWindow is the length of a counting window.
	DefaultWindow = 2 * time.Second
	// DefaultSwarmThreshold is how many identical emojis make one swarm unit.
	DefaultSwarmThreshold = 1000
	// DefaultFlushInterval is the longest an accepted event waits in the
	// producer's buffer.
	DefaultFlushInterval = 500 * time.Millisecond
)

// PartialSubject is the subject of partition p's partials.
func PartialSubject(p int32) string {
	return partialPrefix + strconv.Itoa(int(p))
}

// SwarmSubject is the stored subject of a match's swarms.
func SwarmSubject(match string) string { return swarmPrefix + match }

// LiveSubject is the subject viewers of a match subscribe to.
func LiveSubject(match string) string { return livePrefix + match }

// MatchOfSubject returns the match of a swarm or live subject, or "" if the
// subject is neither.
func MatchOfSubject(subject string) string {
	for _, p := range []string{swarmPrefix, livePrefix} {
		if len(subject) > len(p) && subject[:len(p)] == p {
			return subject[len(p):]
		}
	}
	return ""
}

// LatestSwarmRequest is the JetStream direct-get subject that answers with
// the last stored swarm of a match (a viewer's late join).
func LatestSwarmRequest(match string) string {
	return jsAPIPrefix + directGet + SwarmSubject(match)
}

// LatestSwarmRequestsIn is LatestSwarmRequests under the JetStream domain
// domain ($JS.<domain>.API.…), as a request travels between a leaf and a
// hub of that domain.
func LatestSwarmRequestsIn(domain string) string {
	return "$JS." + domain + ".API." + latestSwarmGet
}
