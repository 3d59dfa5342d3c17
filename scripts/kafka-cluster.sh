#!/usr/bin/env bash
# A real Apache Kafka cluster on loopback, for tests, benchmarks and fault
# runs: 1 or 3 combined broker/controller nodes in KRaft mode (no
# ZooKeeper), from the broker jars on Maven Central (scripts/kafka/pom.xml),
# run with `java -cp`. No Docker, no tarball.
#
#   scripts/kafka-cluster.sh install            fetch the jars into the cache (once; needs mvn, java 17+)
#   scripts/kafka-cluster.sh home               print the cache dir if installed, else fail
#   scripts/kafka-cluster.sh start [-n 3] [-d DIR] [-p PARTITIONS] [--secure]
#                                               format and start the nodes on free ports, create the
#                                               events topic (8 partitions, RF min(3,n), min.insync.replicas
#                                               min(2,n), no unclean election) and print the bootstrap list
#   scripts/kafka-cluster.sh stop [-d DIR]      stop the nodes (SIGTERM, then SIGKILL after 30 s)
#
# --secure: every listener on TLS, clients on SASL_SSL with SCRAM-SHA-512.
# It makes a development CA and one broker certificate with `emostream
# certs` (built from this repository into DIR/bin, or $EMOSTREAM) in
# DIR/tls, SCRAM users with random passwords in DIR/secrets/USER.password
# (emostream, emostream-ingest, emostream-bridge, emostream-processor;
# created when the storage is formatted, with kafka-storage's --add-scram),
# brokers talking to each other as user "broker" over SASL_SSL and to the
# controllers over mutual TLS, and the client settings: DIR/client.properties
# (Java), DIR/kcat.conf (kcat -F) and, on stderr, the stages' --kafka-… flags.
#
# Environment: EMOSTREAM_KAFKA_HOME (cache dir, default
# ~/.cache/emostream/kafka-$KAFKA_VERSION), JAVA (default java on PATH),
# KAFKA_HEAP (default 384m per node), TOPIC (default emostream.events),
# EMOSTREAM (for --secure: an emostream binary; default: emostream on
# PATH, else one built with go from this repository).
# testenv.StartRealKafka (internal/testenv/realkafka.go) starts the same
# (plaintext) cluster from Go tests; it needs `install` first.
set -euo pipefail

KAFKA_VERSION=4.4.0
HERE=$(cd "$(dirname "$0")" && pwd -P) # the real directory: $HERE/.. is the repository, through a link too
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

# free_port prints a loopback port nothing listens on (racy, as any probe),
# below the kernel's ephemeral range: a port another program asks the kernel
# for (":0", as the tests do) never comes from there, so it cannot take one
# of ours between the probe and Kafka's bind.
free_port() {
  local p lo=32768
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  ((lo > 12000)) || die "the ephemeral port range starts at $lo: no room below it for Kafka's ports"
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port"
}

# node_props N I PORT CPORT VOTERS DATA [TLS] prints node I's
# server.properties; with TLS (the cluster dir's tls/), the secure listeners.
node_props() {
  local n=$1 i=$2 port=$3 cport=$4 voters=$5 data=$6 tls=${7:-}
  local rf=$(( n < 3 ? n : 3 )) isr=$(( n < 2 ? 1 : 2 ))
  if [ -z "$tls" ]; then
    cat <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPS
  else
    # Clients and brokers: SASL_SSL, SCRAM-SHA-512 (brokers as "broker");
    # controllers: TLS with client certificates (the broker certificate).
    cat <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SASL_SSL://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$(cat "$tls/../secrets/broker.password")";
listener.name.controller.ssl.client.auth=required
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
PROPS
  fi
  cat <<PROPS
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

# Users of --secure: "broker" between brokers, the others for clients
# (docs/operations.md: a SASL user per stage; "emostream" for up and tools).
SCRAM_USERS="broker emostream emostream-ingest emostream-bridge emostream-processor"

# emostream_bin DIR prints the emostream binary to run: $EMOSTREAM, else
# emostream on PATH, else one built from this repository into DIR/bin.
emostream_bin() {
  if [ -n "${EMOSTREAM:-}" ]; then echo "$EMOSTREAM"; return; fi
  if command -v emostream >/dev/null; then command -v emostream; return; fi
  command -v go >/dev/null || die "go missing to build emostream (https://go.dev/dl), or set EMOSTREAM to an emostream binary"
  (cd "$HERE/.." && go build -o "$1/bin/emostream" ./cmd/emostream) || die "building emostream failed"
  echo "$1/bin/emostream"
}

# secure_files DIR makes DIR/tls (with emostream certs: a CA, the brokers'
# certificate for 127.0.0.1 and localhost, serverAuth and clientAuth, 30
# days, and broker-keystore.pem, its PKCS#8 key and the certificate for
# Kafka's PEM keystore) and DIR/secrets (a random password per SCRAM
# user), unless they exist.
secure_files() {
  local dir=$1 tls=$1/tls sec=$1/secrets u bin
  mkdir -p "$tls" "$sec"
  chmod 0700 "$tls" "$sec"
  if [ ! -s "$tls/broker-keystore.pem" ]; then
    bin=$(emostream_bin "$dir")
    # --force: files of a run that stopped before the keystore are made anew
    "$bin" certs --out "$tls" --hosts 127.0.0.1,localhost --server broker --valid 720h --ca-valid 720h \
      --force >/dev/null || die "emostream certs failed"
    (umask 077 && cat "$tls/broker-key.pem" "$tls/broker.pem" >"$tls/broker-keystore.pem.new")
    mv "$tls/broker-keystore.pem.new" "$tls/broker-keystore.pem"
  fi
  for u in $SCRAM_USERS; do
    [ -s "$sec/$u.password" ] || (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$sec/$u.password" && echo >>"$sec/$u.password")
  done
}

# client_files DIR BOOTSTRAP writes the clients' settings as user
# "emostream": client.properties (Java admin clients) and kcat.conf.
client_files() {
  local dir=$1 pw
  pw=$(cat "$dir/secrets/emostream.password")
  (umask 077
    cat >"$dir/client.properties" <<PROPS
bootstrap.servers=$2
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="emostream" password="$pw";
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.pem
PROPS
    cat >"$dir/kcat.conf" <<PROPS
bootstrap.servers=$2
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=emostream
sasl.password=$pw
ssl.ca.location=$dir/tls/ca.pem
PROPS
  )
}

start() {
  local n=3 dir="" parts=8 secure=false a args=()
  for a in "$@"; do
    if [ "$a" = --secure ]; then secure=true; else args+=("$a"); fi
  done
  set -- "${args[@]+"${args[@]}"}"
  while getopts "n:d:p:" o; do
    case $o in n) n=$OPTARG ;; d) dir=$OPTARG ;; p) parts=$OPTARG ;; *) die "bad flag" ;; esac
  done
  [ "$n" = 1 ] || [ "$n" = 3 ] || die "-n must be 1 or 3"
  installed || die "Kafka jars not installed: scripts/kafka-cluster.sh install"
  dir=${dir:-$(mktemp -d /tmp/emostream-kafka.XXXXXX)}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local tls="" scram=() u
  if $secure; then
    secure_files "$dir"
    tls=$dir/tls
    for u in $SCRAM_USERS; do scram+=(--add-scram "SCRAM-SHA-512=[name=$u,password=$(cat "$dir/secrets/$u.password")]"); done
  fi
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
    (umask 077 && node_props "$n" "$i" "${ports[i-1]}" "${cports[i-1]}" "$voters" "$nd/data" "$tls" >"$nd/server.properties")
    "$JAVA" -cp "$cp" -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" \
      kafka.tools.StorageTool format --cluster-id="$id" -c "$nd/server.properties" --ignore-formatted \
      "${scram[@]+"${scram[@]}"}" >"$nd/format.log" 2>&1 &
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
  local rf=$(( n < 3 ? n : 3 )) isr=$(( n < 2 ? 1 : 2 )) admin=()
  if $secure; then
    client_files "$dir" "$bootstrap"
    admin=(--command-config "$dir/client.properties")
  fi
  "$JAVA" -cp "$cp" -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" "$HERE/kafka/CreateTopic.java" \
    "${admin[@]+"${admin[@]}"}" "$bootstrap" "$TOPIC" "$parts" "$rf" min.insync.replicas=$isr \
    unclean.leader.election.enable=false >"$dir/topic.log" 2>&1 \
    || { cat "$dir/topic.log" >&2; die "creating $TOPIC failed"; }
  echo "$bootstrap" >"$dir/bootstrap"
  echo "kafka-cluster: $n node(s) in $dir, topic $TOPIC ($parts partitions, RF $rf, min.insync.replicas $isr)" >&2
  if $secure; then
    cat >&2 <<MSG
kafka-cluster: SASL_SSL, SCRAM-SHA-512; CA $dir/tls/ca.pem; users and passwords in $dir/secrets/
  stages: --kafka-brokers $bootstrap --kafka-ca $dir/tls/ca.pem --kafka-sasl scram-sha-512 \\
          --kafka-user emostream-ingest --kafka-password-file $dir/secrets/emostream-ingest.password
          (bridge, processor: emostream-bridge, emostream-processor; up and tools: emostream)
  kcat:   kcat -F $dir/kcat.conf -L        Java clients: $dir/client.properties
MSG
  fi
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
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
