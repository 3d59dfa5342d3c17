#!/usr/bin/env bash
# Holds VIEWERS WebSocket viewers across LEAVES leaf processes of one hub, all
# on loopback, with the viewer load in VIEWER_PROCS separate processes, then
# publishes SWARMS swarms at the hub and reports:
#   - each leaf's RSS per viewer: (VmRSS with viewers - VmRSS before) / viewers
#   - the delay from the hub publish to each viewer's receipt: p50, p99 and
#     the last viewer, per swarm, and their medians over all swarms.
# Everything it starts is torn down at exit. Knobs (environment):
#   VIEWERS=20000 LEAVES=2 VIEWER_PROCS=2 SWARMS=20 INTERVAL=2s MATCH=bench
#   LEAF_FLAGS="--gc-percent 50"   extra flags for every `emostream leaf`
#   LEAF_ENV="GODEBUG=..."         extra environment for every leaf
#   PROFILE=1                      save each leaf's heap and goroutine profiles
#   OUT=dir                        keep logs, receipts and profiles there
# Usage: scripts/viewers-bench.sh            (from the repository root)
set -euo pipefail

VIEWERS=${VIEWERS:-20000}
LEAVES=${LEAVES:-2}
VIEWER_PROCS=${VIEWER_PROCS:-2}
SWARMS=${SWARMS:-20}
INTERVAL=${INTERVAL:-2s}
MATCH=${MATCH:-bench}
LEAF_FLAGS=${LEAF_FLAGS:-}
LEAF_ENV=${LEAF_ENV:-}
PROFILE=${PROFILE:-}
OUT=${OUT:-$(mktemp -d /tmp/viewers-bench.XXXXXX)}
mkdir -p "$OUT"

# Each viewer is one file descriptor in a viewer process and one in a leaf.
ulimit -n "$(ulimit -Hn)"
per_proc=$(((VIEWERS + VIEWER_PROCS - 1) / VIEWER_PROCS))
per_leaf=$(((VIEWERS + LEAVES - 1) / LEAVES))
if ((per_proc + 64 > $(ulimit -n) || per_leaf + 64 > $(ulimit -n))); then
	echo "open-file limit $(ulimit -n) too low: raise LEAVES and VIEWER_PROCS" >&2
	exit 1
fi

# shellcheck source=scripts/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"
varz() { curl -fsS "$1/varz" | jq -r ".$2"; }

BIN=$OUT/emostream
go build -o "$BIN" ./cmd/emostream

pass=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$BIN" hub --data-dir "$OUT/hub-data" --nats 127.0.0.1:0 --leafnodes 127.0.0.1:0 \
	--monitor 127.0.0.1:0 --leaf-password "$pass" --log-level warn >"$OUT/hub.out" 2>"$OUT/hub.err" &
pids+=($!)
hub_nats=$(wait_line "$OUT/hub.out" 'stages connect to' | awk '{print $NF}')
# The hub prints the leafnode URL without the password (--leaf-password
# "$pass"); the leaves read it with the password from EMOSTREAM_LEAF_REMOTE.
hub_leaf_url=$(wait_line "$OUT/hub.out" 'leaf clusters connect to' | awk '{print $6}')
hub_leaf="nats-leaf://leaf:$pass@${hub_leaf_url#nats-leaf://}"

leaf_pids=() leaf_ws=() leaf_mon=() leaf_prof=()
for i in $(seq "$LEAVES"); do
	# shellcheck disable=SC2086 # LEAF_FLAGS and LEAF_ENV are word lists
	env $LEAF_ENV EMOSTREAM_LEAF_REMOTE="$hub_leaf" "$BIN" leaf --name "bench-leaf-$i" --ws 127.0.0.1:0 \
		--monitor 127.0.0.1:0 --pprof 127.0.0.1:0 --max-connections $((per_leaf + 64)) --log-level warn \
		--nats-auth-dir "$OUT/leaf-$i-auth" \
		$LEAF_FLAGS >"$OUT/leaf-$i.out" 2>"$OUT/leaf-$i.err" &
	pids+=($!) leaf_pids+=($!)
done
for i in $(seq "$LEAVES"); do
	f=$OUT/leaf-$i.out
	leaf_ws+=("$(wait_line "$f" 'viewers connect to' | awk '{print $NF}')")
	leaf_mon+=("$(wait_line "$f" 'monitoring on' | awk '{print $NF}' | sed 's#/varz$##')")
	leaf_prof+=("$(wait_line "$f" 'profiles on' | awk '{print $NF}')")
done
for i in "${!leaf_mon[@]}"; do
	for _ in $(seq 300); do
		[[ $(varz "${leaf_mon[$i]}" leafnodes) == 1 ]] && break
		sleep 0.1
	done
	[[ $(varz "${leaf_mon[$i]}" leafnodes) == 1 ]] || { echo "leaf $i did not join the hub" >&2; exit 1; }
done
sleep 1 # let start-up garbage settle before the baseline
base=()
for p in "${leaf_pids[@]}"; do base+=("$(rss_kib "$p")"); done

ws=$(IFS=,; echo "${leaf_ws[*]}")
files=()
left=$VIEWERS
start=$(date +%s.%N)
for j in $(seq "$VIEWER_PROCS"); do
	n=$((left < per_proc ? left : per_proc))
	left=$((left - n))
	"$BIN" viewers hold --ws "$ws" --count "$n" --match "$MATCH" --out "$OUT/receipts-$j.txt" \
		>"$OUT/viewers-$j.out" 2>"$OUT/viewers-$j.err" &
	pids+=($!) files+=("$OUT/receipts-$j.txt")
done
for j in $(seq "$VIEWER_PROCS"); do
	for _ in $(seq 1800); do
		grep -q '^ready' "$OUT/viewers-$j.out" 2>/dev/null && break
		[[ -s $OUT/viewers-$j.err ]] && { cat "$OUT/viewers-$j.err" >&2; exit 1; }
		sleep 0.1
	done
	grep -q '^ready' "$OUT/viewers-$j.out" || { echo "viewers $j not ready in 180 s" >&2; exit 1; }
done
echo "$VIEWERS viewers connected in $(echo "$(date +%s.%N) - $start" | bc) s"

report_rss() { # report_rss LABEL: KiB per viewer for each leaf, against the baseline
	for i in "${!leaf_pids[@]}"; do
		local c r h
		c=$(varz "${leaf_mon[$i]}" connections)
		r=$(rss_kib "${leaf_pids[$i]}")
		h=$(hwm_kib "${leaf_pids[$i]}")
		printf 'leaf %d %-6s viewers %6d  RSS %5d MiB (idle %3d MiB)  %5.1f KiB/viewer  peak %5.1f KiB/viewer\n' \
			"$((i + 1))" "$1" "$c" $((r / 1024)) $((${base[$i]} / 1024)) \
			"$(echo "($r - ${base[$i]}) / $c" | bc -l)" "$(echo "($h - ${base[$i]}) / $c" | bc -l)"
	done
}
profile() { # profile STAGE: heap and goroutine profiles of each leaf
	[[ -n $PROFILE ]] || return 0
	for i in "${!leaf_prof[@]}"; do
		curl -fsS "${leaf_prof[$i]}heap" -o "$OUT/leaf-$((i + 1))-$1-heap.pprof"
		curl -fsS "${leaf_prof[$i]}goroutine" -o "$OUT/leaf-$((i + 1))-$1-goroutine.pprof"
		curl -fsS "${leaf_prof[$i]}heap?debug=1" | grep -E '^# (HeapAlloc|HeapSys|HeapIdle|HeapInuse|HeapReleased|Stack|MSpan|NextGC|Sys|NumGC|GCSys|OtherSys)' \
			>"$OUT/leaf-$((i + 1))-$1-memstats.txt"
		grep -E 'HeapInuse|Stack =|NextGC|HeapReleased' "$OUT/leaf-$((i + 1))-$1-memstats.txt" | tr '\n' ' ' | sed "s/^/leaf $((i + 1)) $1: /"
		echo
	done
}
report_rss held
profile held

"$BIN" viewers publish --nats "$hub_nats" --match "$MATCH" --swarms "$SWARMS" --interval "$INTERVAL" \
	>"$OUT/publish.out"
sleep 2 # the last swarm's delivery; receipts are counted below, not assumed
report_rss after
profile after
sleep "${SETTLE:-10}" # no swarms: what the leaf holds between matches' bursts
report_rss idle
for i in "${!leaf_mon[@]}"; do
	echo "leaf $((i + 1)) slow_consumers $(varz "${leaf_mon[$i]}" slow_consumers)"
done
sort -n -k7 "$OUT/publish.out" | awk '{a[NR]=$7} END {printf "hub publish to hub-side republish: median %.1f ms\n", a[int((NR+1)/2)]}'

# Stop the viewers so they flush their receipts, then report.
for p in "${pids[@]:$((1 + LEAVES))}"; do kill "$p"; done
for p in "${pids[@]:$((1 + LEAVES))}"; do wait "$p" || true; done
"$BIN" viewers report --expect "$VIEWERS" --files "$(IFS=,; echo "${files[*]}")" | tee "$OUT/report.txt"
echo "logs, receipts and profiles in $OUT"
