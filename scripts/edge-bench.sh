#!/usr/bin/env bash
# The viewer edge against its floor (a minimal epoll writer, `emostream
# floor`) and a stock nats-server leaf WebSocket, in one run: holds VIEWERS
# WebSocket viewers (raw NATS-over-WebSocket clients in VIEWER_PROCS
# processes, `emostream viewers hold`) on SERVERS servers of each TARGET in
# turn (floors and edges: one per leaf, on the leaf's client port as user
# edge; leaf: the leaves' own WebSocket listeners), publishes SWARMS swarms
# at the hub each time, and reports for each TARGET:
#   - server RSS per viewer: (sum of VmRSS with viewers - before) / viewers,
#     held and right after the broadcasts (peak: VmHWM);
#   - CPU per 1,000 viewers per broadcast: the servers' user+system time
#     during the broadcasts / (swarms × viewers / 1,000);
#   - hub publish → viewer delay: p50, p99 and last viewer per swarm, and
#     their medians (`emostream viewers report`), and receipts per swarm.
# With ROUNDS=N the targets run N times, alternating, and the summary gives
# per round and as medians: edge p99 / floor p99 (each the median over
# swarms), the same for the last viewer, and each target's RSS per viewer,
# with the load average before each round.
# A process holds at most the hard open-file limit of connections (here
# often 20,000): raise SERVERS and VIEWER_PROCS with VIEWERS. Each viewer
# process spreads its viewers over all servers' ports; one source address
# has ~28k ephemeral ports per destination port, so keep VIEWERS/SERVERS
# under that (100,000 viewers: SERVERS=6 or more).
# Knobs (environment):
#   VIEWERS=20000 SERVERS=2 VIEWER_PROCS=2 SWARMS=20 INTERVAL=2s MATCH=bench
#   TARGETS="floor edge"   which servers to measure, in this order (also: leaf)
#   ROUNDS=1               how many times to run the targets
#   EDGE_FLAGS=""          extra flags for every `emostream edge`
#   EDGE_METRICS=19200     edge i serves /metrics on 127.0.0.1:(EDGE_METRICS+i)
#   EDGE_LOG=warn          the edges' log level (debug: every viewer closed, with the reason)
#   PROFILE=1              save edge 1's heap profile and MemStats, and a 10 s CPU
#                          profile of edge 1 during the broadcasts
#   OUT=dir                keep logs and receipts there
# Usage: scripts/edge-bench.sh            (from the repository root)
set -euo pipefail

VIEWERS=${VIEWERS:-20000}
SERVERS=${SERVERS:-2}
VIEWER_PROCS=${VIEWER_PROCS:-2}
SWARMS=${SWARMS:-20}
INTERVAL=${INTERVAL:-2s}
MATCH=${MATCH:-bench}
TARGETS=${TARGETS:-floor edge}
ROUNDS=${ROUNDS:-1}
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
# The hub prints the leafnode URL without the password (--leaf-password
# "$pass"); the leaves read it with the password from EMOSTREAM_LEAF_REMOTE.
hub_leaf_url=$(wait_line "$OUT/hub.out" 'leaf clusters connect to' | awk '{print $6}')
hub_leaf="nats-leaf://leaf:$pass@${hub_leaf_url#nats-leaf://}"

leaf_pids=() leaf_ws=() leaf_edge=() leaf_edge_pw=()
for i in $(seq "$SERVERS"); do
	EMOSTREAM_LEAF_REMOTE="$hub_leaf" "$BIN" leaf --name "bench-leaf-$i" --ws 127.0.0.1:0 --monitor 127.0.0.1:0 \
		--nats-auth-dir "$OUT/leaf-$i-auth" \
		--max-connections $((per_server + 64)) --log-level warn >"$OUT/leaf-$i.out" 2>"$OUT/leaf-$i.err" &
	pids+=($!) leaf_pids+=($!)
done
for i in $(seq "$SERVERS"); do
	leaf_ws+=("$(wait_line "$OUT/leaf-$i.out" 'viewers connect to' | awk '{print $NF}')")
	# "leaf: edges connect to URL as user edge, the password in FILE: emostream
	# edge --nats URL --nats-user edge --nats-password-file FILE …": the URL
	# and the file, never the password.
	line=$(wait_line "$OUT/leaf-$i.out" 'edges connect to')
	leaf_edge+=("$(awk '{print $5}' <<<"$line")")
	leaf_edge_pw+=("$(awk '{for (i = 1; i < NF; i++) if ($i == "--nats-password-file") print $(i+1)}' <<<"$line")")
done
sleep 2 # the leaves join the hub

# run TARGET SERVER_PIDS URLS TAG: one measured round; its figures go to
# $OUT/summary.txt as "TAG target p50 p99 last rss_held rss_after cpu load".
run() {
	local target=$1 urls=$3 tag=$4
	read -r -a spids <<<"$2"
	sleep 1 # start-up garbage settles before the baseline
	fn=rss_kib base=$(sum "${spids[@]}")
	local files=() vpids=() left=$VIEWERS start load
	load=$(cut -d' ' -f1 /proc/loadavg)
	start=$(date +%s.%N)
	for j in $(seq "$VIEWER_PROCS"); do
		local n=$((left < per_proc ? left : per_proc))
		left=$((left - n))
		"$BIN" viewers hold --ws "$urls" --count "$n" --match "$MATCH" --out "$OUT/$tag-receipts-$j.txt" \
			>"$OUT/$tag-viewers-$j.out" 2>"$OUT/$tag-viewers-$j.err" &
		vpids+=($!) files+=("$OUT/$tag-receipts-$j.txt")
	done
	for j in $(seq "$VIEWER_PROCS"); do
		for _ in $(seq 3000); do
			grep -q '^ready' "$OUT/$tag-viewers-$j.out" 2>/dev/null && break
			[[ -s $OUT/$tag-viewers-$j.err ]] && { cat "$OUT/$tag-viewers-$j.err" >&2; exit 1; }
			sleep 0.1
		done
		grep -q '^ready' "$OUT/$tag-viewers-$j.out" || { echo "$tag: viewers $j not ready in 300 s" >&2; exit 1; }
	done
	echo "$tag: $VIEWERS viewers connected in $(echo "$(date +%s.%N) - $start" | bc) s (load average before: $load)"
	sleep 2
	fn=rss_kib held=$(sum "${spids[@]}")
	echo "$tag: kernel $(grep '^TCP:' /proc/net/sockstat) (mem in pages, all sockets of the machine)"
	fn=cpu_ticks cpu0=$(sum "${spids[@]}")
	local prof=""
	if [[ -n ${PROFILE:-} && $target == edge ]]; then
		curl -fsS "http://127.0.0.1:$((EDGE_METRICS + 101))/debug/pprof/profile?seconds=10" -o "$OUT/$tag-edge-1-cpu.pprof" &
		prof=$!
	fi
	"$BIN" viewers publish --nats "$hub_nats" --match "$MATCH" --swarms "$SWARMS" --interval "$INTERVAL" >"$OUT/$tag-publish.out"
	sleep 2 # the last swarm's delivery; receipts are counted below, not assumed
	fn=cpu_ticks cpu1=$(sum "${spids[@]}")
	fn=rss_kib after=$(sum "${spids[@]}")
	fn=hwm_kib peak=$(sum "${spids[@]}")
	[[ -z $prof ]] || wait "$prof" || true
	if [[ -n ${PROFILE:-} && $target == edge ]]; then
		local pp=http://127.0.0.1:$((EDGE_METRICS + 101))/debug/pprof
		curl -fsS "$pp/heap" -o "$OUT/$tag-edge-1-heap.pprof"
		curl -fsS "$pp/heap?debug=1" | grep -E '^# (HeapAlloc|HeapSys|HeapInuse|HeapReleased|Stack|MSpan|NextGC|Sys|GCSys|OtherSys|NumGC) ' >"$OUT/$tag-edge-1-memstats.txt"
	fi
	local kheld kafter kpeak cpu
	kheld=$(echo "($held - $base) / $VIEWERS" | bc -l)
	kafter=$(echo "($after - $base) / $VIEWERS" | bc -l)
	kpeak=$(echo "($peak - $base) / $VIEWERS" | bc -l)
	cpu=$(echo "($cpu1 - $cpu0) * 1000 / $HZ / $SWARMS / ($VIEWERS / 1000)" | bc -l)
	printf '%s: RSS before %d MiB, held %d MiB, after broadcasts %d MiB (peak %d MiB)\n' "$tag" \
		$((base / 1024)) $((held / 1024)) $((after / 1024)) $((peak / 1024))
	printf '%s: %.2f KiB/viewer held, %.2f KiB/viewer after broadcasts, %.2f KiB/viewer peak\n' "$tag" "$kheld" "$kafter" "$kpeak"
	printf '%s: CPU %.2f s for %d broadcasts: %.2f ms per 1,000 viewers per broadcast\n' "$tag" \
		"$(echo "($cpu1 - $cpu0) / $HZ" | bc -l)" "$SWARMS" "$cpu"
	for p in "${vpids[@]}"; do kill "$p"; done
	for p in "${vpids[@]}"; do wait "$p" || true; done
	"$BIN" viewers report --expect "$VIEWERS" --files "$(IFS=,; echo "${files[*]}")" | sed "s/^/$tag: /" | tee "$OUT/$tag-report.txt" | tail -4
	# "swarms N: median p50 X ms, median p99 Y ms, last viewer median Z ms, …"
	awk -v tag="$tag" -v t="$target" -v h="$kheld" -v a="$kafter" -v c="$cpu" -v l="$load" \
		'/median p50/ {gsub(",", ""); for (i = NF; i >= 1; i--) { if ($i == "p50") p50 = $(i+1); if ($i == "p99" && $(i-1) == "median") p99 = $(i+1); if ($i == "viewer") last = $(i+2) }
		 printf "%s %s %s %s %s %.2f %.2f %.2f %s\n", tag, t, p50, p99, last, h, a, c, l}' \
		"$OUT/$tag-report.txt" >>"$OUT/summary.txt"
}

# start_servers TARGET: starts SERVERS floors or edges, one per leaf, and
# sets srv_pids and srv_urls.
start_servers() {
	srv_pids=() srv_urls=()
	local i
	for i in $(seq "$SERVERS"); do
		# Emptied here, not by the server's own redirection: that runs in the
		# child, and wait_line below could still read the last round's URL.
		: >"$OUT/$1-$i.out"
		if [[ $1 == floor ]]; then
			"$BIN" floor --nats "${leaf_edge[$((i - 1))]}" --nats-user edge --nats-password-file "${leaf_edge_pw[$((i - 1))]}" \
				--listen 127.0.0.1:0 --max-connections $((per_server + 64)) \
				--log-level warn >"$OUT/floor-$i.out" 2>"$OUT/floor-$i.err" &
		else
			# shellcheck disable=SC2086 # EDGE_FLAGS is a word list
			"$BIN" edge --nats "${leaf_edge[$((i - 1))]}" --nats-user edge --nats-password-file "${leaf_edge_pw[$((i - 1))]}" --js-domain hub --id "bench-edge-$i" \
				--listen 127.0.0.1:0 --ops "127.0.0.1:$((EDGE_METRICS + i))" --max-connections $((per_server + 64)) \
				--log-level "${EDGE_LOG:-warn}" ${PROFILE:+--pprof 127.0.0.1:$((EDGE_METRICS + 100 + i))} \
				$EDGE_FLAGS >"$OUT/edge-$i.out" 2>"$OUT/edge-$i.err" &
		fi
		pids+=($!) srv_pids+=($!)
	done
	for i in $(seq "$SERVERS"); do
		srv_urls+=("$(wait_line "$OUT/$1-$i.out" 'viewers connect to' | awk '{print $NF}')")
	done
}

stop_servers() {
	for p in "${srv_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${srv_pids[@]}"; do wait "$p" 2>/dev/null || true; done
}

: >"$OUT/summary.txt"
for round in $(seq "$ROUNDS"); do
	for target in $TARGETS; do
		tag=$target
		((ROUNDS == 1)) || tag=$target-r$round
		case $target in
		leaf)
			run leaf "${leaf_pids[*]}" "$(IFS=,; echo "${leaf_ws[*]}")" "$tag"
			;;
		floor | edge)
			start_servers "$target"
			run "$target" "${srv_pids[*]}" "$(IFS=,; echo "${srv_urls[*]}")" "$tag"
			if [[ $target == edge ]]; then
				for i in $(seq "$SERVERS"); do
					curl -fsS "http://127.0.0.1:$((EDGE_METRICS + i))/metrics" | grep -E '^emostream_edge_(connections_(closed|refused)_total|messages_delivered_total|swarms_received_total|broadcast_seconds_(sum|count))' |
						sed "s/^/$tag $i: /"
				done
			fi
			stop_servers
			;;
		*) echo "unknown target $target" >&2; exit 1 ;;
		esac
	done
done

# The summary: every round, then medians over rounds and the edge/floor ratios.
echo "round/target, p50, p99, last viewer (ms, medians over swarms), KiB/viewer held, after broadcasts, CPU ms per 1,000 viewers per broadcast, load average before:"
cat "$OUT/summary.txt"
awk '
function med(arr, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) { t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t }
	return n % 2 ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2 }
{ r = $1; sub(/^[a-z]+-?/, "", r); t = $2; p99[t, r] = $4; last[t, r] = $5; after[t, r] = $7; rounds[r] = 1; targets[t] = 1 }
END {
	for (t in targets) { n = 0; for (r in rounds) if ((t, r) in p99) { n++; a[n] = p99[t, r]; b[n] = last[t, r]; c[n] = after[t, r] }
		printf "%s over %d rounds: median p99 %.1f ms, median last viewer %.1f ms, RSS %.2f KiB/viewer after broadcasts\n", t, n, med(a, n), med(b, n), med(c, n) }
	if (!(("edge") in targets) || !(("floor") in targets)) exit
	n = 0; for (r in rounds) if ((("edge", r) in p99) && (("floor", r) in p99) && p99["floor", r] > 0) { n++; a[n] = p99["edge", r] / p99["floor", r]; b[n] = last["edge", r] / last["floor", r]; printf "round %s: edge/floor p99 %.2f, last viewer %.2f\n", (r == "" ? 1 : r), a[n], b[n] }
	if (n) { lo = hi = a[1]; for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
		printf "edge/floor p99: median %.2f (%.2f-%.2f) over %d rounds; last viewer median %.2f\n", med(a, n), lo, hi, n, med(b, n) }
}' "$OUT/summary.txt" | tee -a "$OUT/summary.txt"
echo "logs and receipts in $OUT"
