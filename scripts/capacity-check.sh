#!/usr/bin/env bash
# Measures CPU and memory per tier of a small EmoStream deployment, every
# stage in its own process, to calibrate the capacity model (package
# capacity) or to check it (docs/capacity.md):
#
#   scripts/capacity-check.sh calibrate   the unit costs: 1 leaf, 2 edges, 20,000 viewers,
#                                         single events at 1,000/s, 50-event arrays at 30,000/s, 10-event at 10,000/s
#   scripts/capacity-check.sh check       the model against a run it was not fitted on: 3 leaves,
#                                         each in its own network namespace (a "region", as root),
#                                         6 edges, 100,000 viewers, 100-event arrays at 50,000/s
#
# It starts a 1-node Apache Kafka (scripts/kafka-cluster.sh; `install`
# once), `emostream hub` (stage passwords in a directory), LEAVES leaves
# (with NETNS=1 each in a namespace joined to the hub's by a veth pair on a
# bridge), EDGES edges spread over the leaves, ingest, bridge and
# processor, MATCHES live matches, and per region MATCHES viewer processes
# (`emostream viewers hold`, one match each, spread over the region's
# edges). Then, for each phase, DUR seconds after WARM seconds: "start"
# (RSS before the viewers), a warm-up at the first phase's load (WARMUP
# seconds, 20, not measured), "idle" (viewers held, no reactions) and each
# BATCH:RATE of PHASES (`emostream loadgen` at RATE events/s in requests
# of BATCH). Per phase it reads each process's CPU time (utime + stime)
# and VmRSS from /proc, and the rates from the stages' metrics.
#
# Output in OUT: measured.txt ("PHASE TIER PROCESSES CORES RSS_MIB"),
# rates.txt ("PHASE key value" lines), and per load phase check-PHASE.txt,
# which `emostream plan --check` compares with the model; calibrate also
# prints the unit costs the phases imply (fit.txt). The load average is
# recorded before and after each phase.
# Knobs (environment): VIEWERS LEAVES EDGES MATCHES PARTITIONS PHASES NETNS
# DUR (30) WARM (10) CONNECTIONS (64) OUT KAFKA_HEAP (384m) KAFKA_NODES
# (1; 3 runs a 3-node cluster with the topic at replication factor 3).
# Traffic stays on loopback and the namespaces' private veth addresses;
# everything started (processes, namespaces, the Kafka node) is removed at
# exit.
set -euo pipefail

MODE=${1:-}
case $MODE in
calibrate)
	: "${VIEWERS:=20000}" "${LEAVES:=1}" "${EDGES:=2}" "${MATCHES:=4}" "${PARTITIONS:=8}"
	: "${PHASES:=1:1000 50:30000 10:10000}" "${NETNS:=0}"
	;;
check)
	: "${VIEWERS:=100000}" "${LEAVES:=3}" "${EDGES:=6}" "${MATCHES:=4}" "${PARTITIONS:=12}"
	: "${PHASES:=100:50000}" "${NETNS:=1}"
	;;
*)
	sed -n '2,30p' "$0" >&2
	exit 2
	;;
esac
KAFKA_NODES=${KAFKA_NODES:-1} # 3: a 3-node cluster, the topic at RF 3
DUR=${DUR:-30}
WARM=${WARM:-10}
CONNECTIONS=${CONNECTIONS:-64}
OUT=${OUT:-$(mktemp -d /tmp/capacity-check.XXXXXX)}
mkdir -p "$OUT"
HERE=$(cd "$(dirname "$0")" && pwd)
((EDGES % LEAVES == 0)) || { echo "EDGES must be a multiple of LEAVES" >&2; exit 2; }
if ((NETNS)) && [[ $(id -u) != 0 ]]; then
	echo "NETNS=1 needs root (ip netns); NETNS=0 runs every leaf on loopback" >&2
	exit 2
fi

# Each viewer is a descriptor in its edge and in its viewer process.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
per_edge=$(((VIEWERS + EDGES - 1) / EDGES))
((per_edge + 64 < $(ulimit -n) && per_edge < 28000)) || { echo "$per_edge viewers per edge: raise EDGES" >&2; exit 2; }

# shellcheck source=scripts/bench-lib.sh
source "$HERE/bench-lib.sh"
NS=emocap
kafka_dir=$OUT/kafka
stop_all() {
	cleanup
	[[ ! -d $kafka_dir ]] || "$HERE/kafka-cluster.sh" stop -d "$kafka_dir" || true
	if ((NETNS)); then
		for i in $(seq "$LEAVES"); do ip netns del "$NS$i" 2>/dev/null || true; done
		ip link del "${NS}br" 2>/dev/null || true
	fi
}
trap stop_all EXIT
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port" >&2
	exit 1
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
# inr REGION CMD...: runs CMD in leaf region REGION's namespace (NETNS=1).
# Started in the background, "${pre[@]}" CMD & is used instead (pre
# REGION), so that $! is the command's own PID (ip netns exec execs it).
inr() {
	local r=$1
	shift
	if ((NETNS)); then ip netns exec "$NS$r" "$@"; else "$@"; fi
}
pre() { pre=(); if ((NETNS)); then pre=(ip netns exec "$NS$1"); fi; }
# metric URL NAME: the sum of a Prometheus series' values (0 if absent).
metric() { curl -fsS "$1" 2>/dev/null | awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f\n", s}'; }

BIN=$OUT/emostream
go build -o "$BIN" ./cmd/emostream
echo "load average at start: $(load)" | tee "$OUT/load.txt"

# Regions: namespaces on a bridge, 10.213.0.1 in the root namespace.
hub_ip=127.0.0.1
if ((NETNS)); then
	stop_all_ns() { for i in $(seq "$LEAVES"); do ip netns del "$NS$i" 2>/dev/null || true; done; ip link del "${NS}br" 2>/dev/null || true; }
	stop_all_ns
	ip link add "${NS}br" type bridge
	ip addr add 10.213.0.1/24 dev "${NS}br"
	ip link set "${NS}br" up
	for i in $(seq "$LEAVES"); do
		ip netns add "$NS$i"
		ip link add "${NS}${i}a" type veth peer name "${NS}${i}b"
		ip link set "${NS}${i}b" netns "$NS$i"
		ip link set "${NS}${i}a" master "${NS}br" up
		ip -n "$NS$i" addr add "10.213.0.$((10 + i))/24" dev "${NS}${i}b"
		ip -n "$NS$i" link set "${NS}${i}b" up
		ip -n "$NS$i" link set lo up
	done
	hub_ip=10.213.0.1
fi

# Kafka: one node, the events topic with PARTITIONS partitions.
boot=$("$HERE/kafka-cluster.sh" start -n "$KAFKA_NODES" -p "$PARTITIONS" -d "$kafka_dir" 2>"$OUT/kafka.err" | tail -1)
kafka_pid=$(cat "$kafka_dir"/node*/pid | tr '\n' ' ')

pass=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
auth=$OUT/auth
"$BIN" hub --data-dir "$OUT/hub-data" --nats 127.0.0.1:0 --leafnodes "$hub_ip:0" --monitor "127.0.0.1:$(free_port)" \
	--nats-auth-dir "$auth" --leaf-password "$pass" --log-level warn >"$OUT/hub.out" 2>"$OUT/hub.err" &
hub_pid=$!
pids+=($!)
hub_nats=$(wait_line "$OUT/hub.out" 'stages connect to' | awk '{print $NF}')
# The hub prints the leafnode URL without the password (--leaf-password
# "$pass"); the leaves read it with the password from EMOSTREAM_LEAF_REMOTE.
hub_leaf_url=$(wait_line "$OUT/hub.out" 'leaf clusters connect to' | awk '{print $6}')
hub_leaf="nats-leaf://leaf:$pass@${hub_leaf_url#nats-leaf://}"
hub_mon=$(wait_line "$OUT/hub.out" 'monitoring on' | awk '{print $NF}')
stage() { echo --nats "$hub_nats" --nats-user "$1" --nats-password-file "$auth/$1.password"; }

leaf_pids=() edge_pids=() edge_metrics=() leaf_edge=() leaf_edge_pw=()
for i in $(seq "$LEAVES"); do
	pre "$i"
	"${pre[@]}" env EMOSTREAM_LEAF_REMOTE="$hub_leaf" "$BIN" leaf --name "cap-leaf-$i" --ws 127.0.0.1:0 --monitor 127.0.0.1:0 \
		--nats-auth-dir "$OUT/leaf-$i-auth" \
		--log-level warn >"$OUT/leaf-$i.out" 2>"$OUT/leaf-$i.err" &
	pids+=($!) leaf_pids+=($!)
done
for i in $(seq "$LEAVES"); do
	# "leaf: edges connect to URL as user edge, the password in FILE: …": the
	# URL and the file, never the password.
	line=$(wait_line "$OUT/leaf-$i.out" 'edges connect to')
	leaf_edge+=("$(awk '{print $5}' <<<"$line")")
	leaf_edge_pw+=("$(awk '{for (i = 1; i < NF; i++) if ($i == "--nats-password-file") print $(i+1)}' <<<"$line")")
done
edge_urls=() # per region, comma-separated
for e in $(seq "$EDGES"); do
	r=$(((e - 1) % LEAVES + 1))
	port=$(free_port)
	pre "$r"
	"${pre[@]}" "$BIN" edge --nats "${leaf_edge[$((r - 1))]}" --nats-user edge --nats-password-file "${leaf_edge_pw[$((r - 1))]}" --js-domain hub --id "cap-edge-$e" --listen 127.0.0.1:0 \
		--ops "127.0.0.1:$port" --max-connections $((per_edge + 64)) --log-level warn >"$OUT/edge-$e.out" 2>"$OUT/edge-$e.err" &
	pids+=($!) edge_pids+=($!) edge_metrics+=("$r:$port")
done
for e in $(seq "$EDGES"); do
	r=$(((e - 1) % LEAVES + 1))
	u=$(wait_line "$OUT/edge-$e.out" 'viewers connect to' | awk '{print $NF}')
	edge_urls[r]=${edge_urls[r]:+${edge_urls[r]},}$u
done

for m in $(seq 0 $((MATCHES - 1))); do
	"$BIN" match create --id "match-$m" --title "capacity $m" --live $(stage admin) >/dev/null
done
ingest_ops=$(free_port) bridge_met=$(free_port) proc_met=$(free_port)
# shellcheck disable=SC2046 # stage prints words
"$BIN" ingest --kafka-brokers "$boot" $(stage ingest) --listen 127.0.0.1:0 --ops "127.0.0.1:$ingest_ops" \
	--user-rate 0 --ip-rate 0 --log-level warn >"$OUT/ingest.out" 2>"$OUT/ingest.err" &
ingest_pid=$!
pids+=($!)
# shellcheck disable=SC2046
"$BIN" bridge --kafka-brokers "$boot" $(stage bridge) --ops "127.0.0.1:$bridge_met" --log-level warn >"$OUT/bridge.out" 2>"$OUT/bridge.err" &
bridge_pid=$!
pids+=($!)
# shellcheck disable=SC2046
"$BIN" processor --kafka-brokers "$boot" $(stage processor) --ops "127.0.0.1:$proc_met" --log-level warn >"$OUT/processor.out" 2>"$OUT/processor.err" &
proc_pid=$!
pids+=($!)
ingest_url=$(wait_line "$OUT/ingest.out" 'ingest listening on' | awk '{print $4}')
sleep 5 # the stages join their consumer group and streams

# tiers: "tier pid pid…" per line.
tiers() {
	echo "ingest $ingest_pid"
	echo "kafka $kafka_pid"
	echo "bridge $bridge_pid"
	echo "processor $proc_pid"
	echo "hub $hub_pid"
	echo "leaf ${leaf_pids[*]}"
	echo "edge ${edge_pids[*]}"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# snapshot FILE: every tier's CPU ticks, then the counters.
snapshot() {
	tiers | while read -r t ps; do
		s=0
		for p in $ps; do s=$((s + $(ticks "$p"))); done
		echo "cpu $t $s"
	done >"$1"
	{
		echo "requests $(metric "http://127.0.0.1:$ingest_ops/metrics" emostream_ingest_request_events_count)"
		echo "events $(metric "http://127.0.0.1:$ingest_ops/metrics" emostream_ingest_events_accepted_total)"
		echo "produces $(metric "http://127.0.0.1:$ingest_ops/metrics" emostream_ingest_kafka_batch_events_count)"
		echo "produce_ms $(curl -fsS "http://127.0.0.1:$ingest_ops/metrics" | awk '$1 == "emostream_ingest_kafka_produce_seconds_sum" {printf "%.0f", $2 * 1000}')"
		echo "bridge_events $(metric "http://127.0.0.1:$bridge_met/metrics" emostream_bridge_events_total)"
		echo "swarms $(metric "http://127.0.0.1:$proc_met/metrics" emostream_processor_swarms_published_total)"
		d=0
		for rp in "${edge_metrics[@]}"; do d=$((d + $(inr "${rp%%:*}" curl -fsS "http://127.0.0.1:${rp#*:}/metrics" | awk '$1 == "emostream_edge_messages_delivered_total" {printf "%.0f", $2}'))); done
		echo "deliveries $d"
		curl -fsS "$hub_mon" | jq -r '"hub_in \(.in_msgs)\nhub_out \(.out_msgs)"'
		# the records' bytes once: every node's logs over the replicas
		echo "kafka_bytes $(find "$kafka_dir"/node*/data/emostream.events-* -name '*.log' -printf '%s\n' | awk -v n="$KAFKA_NODES" '{s += $1} END {print int(s / n)}')"
		echo "time $(date +%s.%N)"
	} >>"$1"
}
rss_mib() { # rss_mib PID…: summed VmRSS in MiB
	local s=0
	for p in "$@"; do s=$((s + $(rss_kib "$p"))); done
	echo "scale=1; $s / 1024" | bc
}
# measure PHASE: DUR seconds of CPU and counters; RSS at the end.
measure() {
	local ph=$1
	echo "$ph: load average before $(load)"
	snapshot "$OUT/$ph.a"
	sleep "$DUR" # the measured interval
	snapshot "$OUT/$ph.b"
	local secs
	secs=$(echo "$(awk '$1 == "time" {print $2}' "$OUT/$ph.b") - $(awk '$1 == "time" {print $2}' "$OUT/$ph.a")" | bc -l)
	tiers | while read -r t ps; do
		# shellcheck disable=SC2086 # ps is a list of PIDs
		printf '%s %s %d %.4f %s\n' "$ph" "$t" "$(wc -w <<<"$ps")" \
			"$(echo "($(awk -v t="$t" '$1 == "cpu" && $2 == t {print $3}' "$OUT/$ph.b") - $(awk -v t="$t" '$1 == "cpu" && $2 == t {print $3}' "$OUT/$ph.a")) / $(getconf CLK_TCK) / $secs" | bc -l)" \
			"$(rss_mib $ps)"
	done | tee -a "$OUT/measured.txt"
	paste -d' ' <(grep -v '^cpu' "$OUT/$ph.a") <(grep -v '^cpu' "$OUT/$ph.b") | awk -v ph="$ph" -v s="$secs" \
		'$1 != "time" {printf "%s %s_per_s %.2f\n", ph, $1, ($4 - $2) / s}' | tee -a "$OUT/rates.txt"
	echo "$ph slab_kib $(awk '/^Slab:/ {print $2}' /proc/meminfo)" >>"$OUT/rates.txt"
	echo "$ph tcp_mem_pages $(awk '/^TCP:/ {print $NF}' /proc/net/sockstat)" >>"$OUT/rates.txt"
	echo "$ph: load average after $(load)" | tee -a "$OUT/load.txt"
}

: >"$OUT/measured.txt"
: >"$OUT/rates.txt"
measure start

# Viewers: per region, one process per match over the region's edges.
viewer_pids=()
per_proc=$(((VIEWERS + LEAVES * MATCHES - 1) / (LEAVES * MATCHES)))
for r in $(seq "$LEAVES"); do
	for m in $(seq 0 $((MATCHES - 1))); do
		pre "$r"
		"${pre[@]}" "$BIN" viewers hold --ws "${edge_urls[r]}" --count "$per_proc" --match "match-$m" --out /dev/null \
			>"$OUT/viewers-$r-$m.out" 2>"$OUT/viewers-$r-$m.err" &
		pids+=($!) viewer_pids+=($!)
	done
done
for f in $(for r in $(seq "$LEAVES"); do for m in $(seq 0 $((MATCHES - 1))); do echo "$OUT/viewers-$r-$m.out"; done; done); do
	for _ in $(seq 3000); do
		grep -qs '^ready' "$f" && break
		[[ ! -s ${f%.out}.err ]] || { cat "${f%.out}.err" >&2; exit 1; }
		sleep 0.1 # a poll interval
	done
	grep -q '^ready' "$f" || { echo "$f: viewers not ready in 300 s" >&2; exit 1; }
done
held=$((per_proc * LEAVES * MATCHES))
echo "$held viewers held"
# Warm-up, not measured: the first phase's load for WARMUP seconds, so that
# the Kafka JVM's JIT has compiled the produce path (in the first runs it
# cost 0.05-0.1 cores more in the first load phase than later).
first=${PHASES%% *}
"$BIN" loadgen --target "$ingest_url" --rate "${first#*:}" --batch "${first%%:*}" --connections "$CONNECTIONS" \
	--matches "$MATCHES" --duration "${WARMUP:-20}s" >/dev/null 2>"$OUT/loadgen-warmup.err"
sleep 5 # the last windows drain before the idle phase
measure idle

for ph in $PHASES; do
	batch=${ph%%:*} rate=${ph#*:}
	name=b$batch-r$rate
	"$BIN" loadgen --target "$ingest_url" --rate "$rate" --batch "$batch" --connections "$CONNECTIONS" \
		--matches "$MATCHES" --duration "$((WARM + DUR + 5))s" --json >"$OUT/loadgen-$name.json" 2>"$OUT/loadgen-$name.err" &
	lg=$!
	sleep "$WARM" # the load settles: windows close, swarms flow
	measure "$name"
	wait "$lg" || { cat "$OUT/loadgen-$name.err" >&2; exit 1; }
	rec=$(awk -v ph="$name" '$1 == ph && $2 == "kafka_bytes_per_s" {b = $3} $1 == ph && $2 == "events_per_s" {e = $3} END {if (e > 0) printf "%.1f", b / e; else print 0}' "$OUT/rates.txt")
	{
		rates() { awk -v ph="$name" -v k="$1" '$1 == ph && $2 == k {print $3}' "$OUT/rates.txt"; }
		echo "# $MODE, phase $name, $(date -u +%FT%TZ), load average $(tail -1 "$OUT/load.txt" | awk '{print $NF}')"
		echo "viewers $held"
		echo "reactions $(rates events_per_s)"
		echo "batch $(echo "$(rates events_per_s) / $(rates requests_per_s)" | bc -l | xargs printf '%.2f')"
		echo "matches $MATCHES"
		echo "leaves $LEAVES"
		echo "edges $EDGES"
		echo "partitions $PARTITIONS"
		echo "rf $KAFKA_NODES"
		echo "produces $(rates produces_per_s)"
		echo "record_bytes $rec"
		awk -v ph="$name" '$1 == ph {print "tier", $2, $3, $4, $5}' "$OUT/measured.txt"
	} >"$OUT/check-$name.txt"
	"$BIN" plan --check "$OUT/check-$name.txt" | tee "$OUT/compare-$name.txt"
	sleep 3 # the last windows drain
done

if [[ $MODE == calibrate ]]; then
	awk -v P="$PARTITIONS" -v M="$MATCHES" -v L="$LEAVES" -v E="$EDGES" -v V="$held" -v W=2 \
		-f "$HERE/capacity-fit.awk" "$OUT/measured.txt" "$OUT/rates.txt" | tee "$OUT/fit.txt"
fi
echo "load average at the end: $(load); everything in $OUT"
