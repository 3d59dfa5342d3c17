#!/usr/bin/env bash
# The viewer edge against a stock nats-server leaf WebSocket, in one run:
# holds VIEWERS WebSocket viewers (raw NATS-over-WebSocket clients in
# VIEWER_PROCS processes, `emostream viewers hold`) first on SERVERS leaves'
# own WebSocket listeners, then on SERVERS edges (`emostream edge`, one per
# leaf, on the leaf's client port), publishes SWARMS swarms at the hub each
# time, and reports for each TARGET:
#   - server RSS per viewer: (sum of VmRSS with viewers - before) / viewers,
#     held and right after the broadcasts (peak: VmHWM);
#   - CPU per 1,000 viewers per broadcast: the servers' user+system time
#     during the broadcasts / (swarms × viewers / 1,000);
#   - hub publish → viewer delay: p50, p99 and last viewer per swarm, and
#     their medians (`emostream viewers report`), and receipts per swarm.
# A process holds at most the hard open-file limit of connections (here
# often 20,000): raise SERVERS and VIEWER_PROCS with VIEWERS. Each viewer
# process spreads its viewers over all servers' ports; one source address
# has ~28k ephemeral ports per destination port, so keep VIEWERS/SERVERS
# under that (100,000 viewers: SERVERS=6 or more).
# Knobs (environment):
#   VIEWERS=20000 SERVERS=2 VIEWER_PROCS=2 SWARMS=20 INTERVAL=2s MATCH=bench
#   TARGETS="leaf edge"   which servers to measure, in this order
#   EDGE_FLAGS=""          extra flags for every `emostream edge`
#   EDGE_METRICS=19200     edge i serves /metrics on 127.0.0.1:(EDGE_METRICS+i)
#   EDGE_LOG=warn          the edges' log level (debug: every viewer closed, with the reason)
#   PROFILE=1              save edge 1's heap profile and MemStats after the broadcasts
#   OUT=dir                keep logs and receipts there
# Usage: scripts/edge-bench.sh            (from the repository root)
set -euo pipefail

VIEWERS=${VIEWERS:-20000}
SERVERS=${SERVERS:-2}
VIEWER_PROCS=${VIEWER_PROCS:-2}
SWARMS=${SWARMS:-20}
INTERVAL=${INTERVAL:-2s}
MATCH=${MATCH:-bench}
TARGETS=${TARGETS:-leaf edge}
EDGE_FLAGS=${EDGE_FLAGS:-}
EDGE_METRICS=${EDGE_METRICS:-19200} # edge i serves /metrics on 127.0.0.1:EDGE_METRICS+i
OUT=${OUT:-$(mktemp -d /tmp/edge-bench.XXXXXX)}
mkdir -p "$OUT"

ulimit -n "$(ulimit -Hn)"
per_proc=$(((VIEWERS + VIEWER_PROCS - 1) / VIEWER_PROCS))
per_server=$(((VIEWERS + SERVERS - 1) / SERVERS))
if ((per_proc + 64 > $(ulimit -n) || per_server + 64 > $(ulimit -n))); then
	echo "open-file limit $(ulimit -n) too low for $per_proc viewers per process, $per_server per server: raise SERVERS and VIEWER_PROCS" >&2
	exit 1
fi

# shellcheck source=scripts/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sum() { local s=0; for p in "$@"; do s=$((s + $($fn "$p"))); done; echo $s; }

BIN=$OUT/emostream
go build -o "$BIN" ./cmd/emostream
HZ=$(getconf CLK_TCK)

pass=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$BIN" hub --data-dir "$OUT/hub-data" --nats 127.0.0.1:0 --leafnodes 127.0.0.1:0 \
	--monitor 127.0.0.1:0 --leaf-password "$pass" --log-level warn >"$OUT/hub.out" 2>"$OUT/hub.err" &
pids+=($!)
hub_nats=$(wait_line "$OUT/hub.out" 'stages connect to' | awk '{print $NF}')
hub_leaf=$(wait_line "$OUT/hub.out" 'leaf clusters connect to' | awk '{print $NF}')

leaf_pids=() leaf_ws=() leaf_edge=()
for i in $(seq "$SERVERS"); do
	"$BIN" leaf --name "bench-leaf-$i" --remote "$hub_leaf" --ws 127.0.0.1:0 --monitor 127.0.0.1:0 \
		--max-connections $((per_server + 64)) --log-level warn >"$OUT/leaf-$i.out" 2>"$OUT/leaf-$i.err" &
	pids+=($!) leaf_pids+=($!)
done
for i in $(seq "$SERVERS"); do
	leaf_ws+=("$(wait_line "$OUT/leaf-$i.out" 'viewers connect to' | awk '{print $NF}')")
	leaf_edge+=("$(wait_line "$OUT/leaf-$i.out" 'edges connect to' | awk '{print $5}')")
done
sleep 2 # the leaves join the hub

# run TARGET SERVER_PIDS URLS: one measured round.
run() {
	local target=$1 urls=$3
	read -r -a spids <<<"$2"
	sleep 1 # start-up garbage settles before the baseline
	fn=rss_kib base=$(sum "${spids[@]}")
	local files=() vpids=() left=$VIEWERS start
	start=$(date +%s.%N)
	for j in $(seq "$VIEWER_PROCS"); do
		local n=$((left < per_proc ? left : per_proc))
		left=$((left - n))
		"$BIN" viewers hold --ws "$urls" --count "$n" --match "$MATCH" --out "$OUT/$target-receipts-$j.txt" \
			>"$OUT/$target-viewers-$j.out" 2>"$OUT/$target-viewers-$j.err" &
		vpids+=($!) files+=("$OUT/$target-receipts-$j.txt")
	done
	for j in $(seq "$VIEWER_PROCS"); do
		for _ in $(seq 3000); do
			grep -q '^ready' "$OUT/$target-viewers-$j.out" 2>/dev/null && break
			[[ -s $OUT/$target-viewers-$j.err ]] && { cat "$OUT/$target-viewers-$j.err" >&2; exit 1; }
			sleep 0.1
		done
		grep -q '^ready' "$OUT/$target-viewers-$j.out" || { echo "$target: viewers $j not ready in 300 s" >&2; exit 1; }
	done
	echo "$target: $VIEWERS viewers connected in $(echo "$(date +%s.%N) - $start" | bc) s"
	sleep 2
	fn=rss_kib held=$(sum "${spids[@]}")
	echo "$target: kernel $(grep '^TCP:' /proc/net/sockstat) (mem in pages, all sockets of the machine)"
	fn=cpu_ticks cpu0=$(sum "${spids[@]}")
	"$BIN" viewers publish --nats "$hub_nats" --match "$MATCH" --swarms "$SWARMS" --interval "$INTERVAL" >"$OUT/$target-publish.out"
	sleep 2 # the last swarm's delivery; receipts are counted below, not assumed
	fn=cpu_ticks cpu1=$(sum "${spids[@]}")
	fn=rss_kib after=$(sum "${spids[@]}")
	fn=hwm_kib peak=$(sum "${spids[@]}")
	if [[ -n ${PROFILE:-} && $target == edge ]]; then
		local pp=http://127.0.0.1:$((EDGE_METRICS + 101))/debug/pprof
		curl -fsS "$pp/heap" -o "$OUT/edge-1-heap.pprof"
		curl -fsS "$pp/heap?debug=1" | grep -E '^# (HeapAlloc|HeapSys|HeapInuse|HeapReleased|Stack|MSpan|NextGC|Sys|GCSys|OtherSys|NumGC) ' >"$OUT/edge-1-memstats.txt"
	fi
	printf '%s: RSS before %d MiB, held %d MiB, after broadcasts %d MiB (peak %d MiB)\n' "$target" \
		$((base / 1024)) $((held / 1024)) $((after / 1024)) $((peak / 1024))
	printf '%s: %.2f KiB/viewer held, %.2f KiB/viewer after broadcasts, %.2f KiB/viewer peak\n' "$target" \
		"$(echo "($held - $base) / $VIEWERS" | bc -l)" "$(echo "($after - $base) / $VIEWERS" | bc -l)" \
		"$(echo "($peak - $base) / $VIEWERS" | bc -l)"
	printf '%s: CPU %.2f s for %d broadcasts: %.2f ms per 1,000 viewers per broadcast\n' "$target" \
		"$(echo "($cpu1 - $cpu0) / $HZ" | bc -l)" "$SWARMS" \
		"$(echo "($cpu1 - $cpu0) * 1000 / $HZ / $SWARMS / ($VIEWERS / 1000)" | bc -l)"
	for p in "${vpids[@]}"; do kill "$p"; done
	for p in "${vpids[@]}"; do wait "$p" || true; done
	"$BIN" viewers report --expect "$VIEWERS" --files "$(IFS=,; echo "${files[*]}")" | sed "s/^/$target: /" | tee "$OUT/$target-report.txt" | tail -4
}

for target in $TARGETS; do
	case $target in
	leaf)
		run leaf "${leaf_pids[*]}" "$(IFS=,; echo "${leaf_ws[*]}")"
		;;
	edge)
		edge_pids=() edge_urls=()
		for i in $(seq "$SERVERS"); do
			# shellcheck disable=SC2086 # EDGE_FLAGS is a word list
			"$BIN" edge --nats "${leaf_edge[$((i - 1))]}" --js-domain hub --id "bench-edge-$i" \
				--listen 127.0.0.1:0 --ops "127.0.0.1:$((EDGE_METRICS + i))" --max-connections $((per_server + 64)) \
				--log-level "${EDGE_LOG:-warn}" ${PROFILE:+--pprof 127.0.0.1:$((EDGE_METRICS + 100 + i))} \
				$EDGE_FLAGS >"$OUT/edge-$i.out" 2>"$OUT/edge-$i.err" &
			pids+=($!) edge_pids+=($!)
		done
		for i in $(seq "$SERVERS"); do
			edge_urls+=("$(wait_line "$OUT/edge-$i.out" 'viewers connect to' | awk '{print $NF}')")
		done
		run edge "${edge_pids[*]}" "$(IFS=,; echo "${edge_urls[*]}")"
		for i in $(seq "$SERVERS"); do
			curl -fsS "http://127.0.0.1:$((EDGE_METRICS + i))/metrics" | grep -E '^emostream_edge_(connections_(closed|refused)_total|messages_delivered_total|swarms_received_total|broadcast_seconds_(sum|count))' |
				sed "s/^/edge $i: /"
		done
		;;
	*) echo "unknown target $target" >&2; exit 1 ;;
	esac
done
echo "logs and receipts in $OUT"
