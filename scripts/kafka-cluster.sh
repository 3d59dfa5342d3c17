#!/usr/bin/env bash
# A real Apache Kafka cluster on loopback, for tests, benchmarks and fault
# runs: 1 or 3 combined broker/controller nodes in KRaft mode (no
# ZooKeeper), from the broker jars on Maven Central (scripts/kafka/pom.xml),
# run with `java -cp`. No Docker, no tarball.
#
#   scripts/kafka-cluster.sh install            fetch the jars into the cache (once; needs mvn, java 17+)
#   scripts/kafka-cluster.sh home               print the cache dir if installed, else fail
#   scripts/kafka-cluster.sh start [-n 3] [-d DIR] [-p PARTITIONS]
#                                               format and start the nodes on free ports, create the
#                                               events topic (RF min(3,n), min.insync.replicas min(2,n),
#                                               no unclean election) and print the bootstrap list
#   scripts/kafka-cluster.sh stop [-d DIR]      stop the nodes (SIGTERM, then SIGKILL after 30 s)
#
# Environment: EMOSTREAM_KAFKA_HOME (cache dir, default
# ~/.cache/emostream/kafka-$KAFKA_VERSION), JAVA (default java on PATH),
# KAFKA_HEAP (default 384m per node), TOPIC (default emostream.events).
# testenv.StartRealKafka (internal/testenv/realkafka.go) starts the same
# cluster from Go tests; it needs `install` first.
set -euo pipefail

KAFKA_VERSION=4.4.0
HERE=$(cd "$(dirname "$0")" && pwd)
HOME_DIR=${EMOSTREAM_KAFKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/emostream/kafka-$KAFKA_VERSION}
JAVA=${JAVA:-java}
KAFKA_HEAP=${KAFKA_HEAP:-384m}
TOPIC=${TOPIC:-emostream.events}

die() { echo "kafka-cluster: $*" >&2; exit 1; }

installed() { [ -f "$HOME_DIR/installed" ]; }

install() {
  if installed; then echo "$HOME_DIR"; return; fi
  command -v mvn >/dev/null || die "mvn missing: apt-get install -y maven openjdk-17-jdk-headless"
  command -v "$JAVA" >/dev/null || die "java missing: apt-get install -y openjdk-17-jdk-headless"
  mkdir -p "$HOME_DIR"
  rm -rf "$HOME_DIR/libs"
  mvn -q -B -Dstyle.color=never -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$HOME_DIR/libs" >&2
  cp "$HERE/kafka/log4j2.properties" "$HOME_DIR/"
  ls "$HOME_DIR/libs/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null
  echo "$KAFKA_VERSION" >"$HOME_DIR/installed"
  echo "$HOME_DIR"
}

# free_port prints a loopback port nothing listens on (racy, as any probe).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port"
}

# node_props N I PORT CPORT VOTERS DATA prints node I's server.properties.
node_props() {
  local n=$1 i=$2 port=$3 cport=$4 voters=$5 data=$6
  local rf=$(( n < 3 ? n : 3 )) isr=$(( n < 2 ? 1 : 2 ))
  cat <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
default.replication.factor=$rf
min.insync.replicas=$isr
unclean.leader.election.enable=false
auto.create.topics.enable=false
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
background.threads=4
log.segment.bytes=67108864
PROPS
}

start() {
  local n=3 dir="" parts=4
  while getopts "n:d:p:" o; do
    case $o in n) n=$OPTARG ;; d) dir=$OPTARG ;; p) parts=$OPTARG ;; *) die "bad flag" ;; esac
  done
  [ "$n" = 1 ] || [ "$n" = 3 ] || die "-n must be 1 or 3"
  installed || die "Kafka jars not installed: scripts/kafka-cluster.sh install"
  dir=${dir:-$(mktemp -d /tmp/emostream-kafka.XXXXXX)}
  mkdir -p "$dir"
  local cp="$HOME_DIR/libs/*" ports=() cports=() voters="" i
  for i in $(seq "$n"); do ports+=("$(free_port)"); cports+=("$(free_port)"); done
  for i in $(seq "$n"); do voters+="${voters:+,}$i@127.0.0.1:${cports[i-1]}"; done
  # One cluster id for every node, base64url of 16 random bytes.
  local id
  id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  local bootstrap="" fmt=()
  for i in $(seq "$n"); do # format every node at once
    local nd="$dir/node$i"
    mkdir -p "$nd"
    node_props "$n" "$i" "${ports[i-1]}" "${cports[i-1]}" "$voters" "$nd/data" >"$nd/server.properties"
    "$JAVA" -cp "$cp" -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" \
      kafka.tools.StorageTool format --cluster-id="$id" -c "$nd/server.properties" --ignore-formatted >"$nd/format.log" 2>&1 &
    fmt+=($!)
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[i-1]}"
  done
  for i in $(seq "$n"); do
    wait "${fmt[i-1]}" || { cat "$dir/node$i/format.log" >&2; die "formatting node $i failed"; }
  done
  for i in $(seq "$n"); do
    local nd="$dir/node$i"
    nohup "$JAVA" -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -cp "$cp" \
      kafka.Kafka "$nd/server.properties" >"$nd/kafka.log" 2>&1 &
    echo $! >"$nd/pid"
  done
  for i in $(seq "$n"); do
    local deadline=$((SECONDS + 120))
    until (exec 3<>"/dev/tcp/127.0.0.1/${ports[i-1]}") 2>/dev/null; do
      kill -0 "$(cat "$dir/node$i/pid")" 2>/dev/null || { tail -20 "$dir/node$i/kafka.log" >&2; die "node $i exited"; }
      [ $SECONDS -lt $deadline ] || die "node $i not listening after 120 s (log: $dir/node$i/kafka.log)"
      sleep 0.2 # a poll interval
    done
  done
  local rf=$(( n < 3 ? n : 3 )) isr=$(( n < 2 ? 1 : 2 ))
  "$JAVA" -cp "$cp" -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" "$HERE/kafka/CreateTopic.java" \
    "$bootstrap" "$TOPIC" "$parts" "$rf" min.insync.replicas=$isr unclean.leader.election.enable=false >"$dir/topic.log" 2>&1 \
    || { cat "$dir/topic.log" >&2; die "creating $TOPIC failed"; }
  echo "$bootstrap" >"$dir/bootstrap"
  echo "kafka-cluster: $n node(s) in $dir, topic $TOPIC ($parts partitions, RF $rf, min.insync.replicas $isr)" >&2
  echo "$bootstrap"
}

stop() {
  local dir=""
  while getopts "d:" o; do case $o in d) dir=$OPTARG ;; *) die "bad flag" ;; esac; done
  [ -n "$dir" ] || die "stop needs -d DIR"
  local f pid
  for f in "$dir"/node*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
  done
  for f in "$dir"/node*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

cmd=${1:-}
shift || true
case $cmd in
  install) install ;;
  home) installed || die "not installed: scripts/kafka-cluster.sh install"; echo "$HOME_DIR" ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
