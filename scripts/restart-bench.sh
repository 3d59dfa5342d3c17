#!/usr/bin/env bash
# The first swarm on screen after a restart of `emostream up`: runs `up` on
# free loopback ports with a data directory of its own, a sender posting
# single reactions to its demo match (about 15 a second, every one a new
# user), and RESTARTS times stops `up` (SIGTERM, or SIGKILL with KILL=KILL),
# starts it again on the same data directory and at once a new viewer
# (`emostream watch`, retried every 50 ms until the edge takes it). It
# reports, per restart and as medians (range):
#   - ready: from starting the new `up` to its "EmoStream is up" line;
#   - first swarm: from starting the new `up` to the viewer's receipt of the
#     first swarm of a window that had not ended when `up` was stopped (the
#     swarms shown before the stop, and the stored latest swarm a viewer is
#     shown on joining if it is older, do not count);
#   - the same from the stop;
# with the load average before each restart. Everything it starts is
# stopped at exit.
# Knobs (environment): RESTARTS=5 KILL=TERM SETTLE=6 (seconds of swarms
# between restarts) OUT=dir (logs and the viewers' timestamped lines).
# Usage: scripts/restart-bench.sh            (from the repository root)
set -euo pipefail

RESTARTS=${RESTARTS:-5}
KILL=${KILL:-TERM}
SETTLE=${SETTLE:-6}
OUT=${OUT:-$(mktemp -d /tmp/restart-bench.XXXXXX)}
mkdir -p "$OUT"
MATCH=final-2026

# shellcheck source=scripts/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port" >&2
	exit 1
}
now() { date +%s.%N; }

BIN=$OUT/emostream
go build -o "$BIN" ./cmd/emostream
HTTP=$(free_port) OPS=$(free_port) KAFKA=$(free_port) NATS=$(free_port) LEAF=$(free_port)
WS1=$(free_port) WS2=$(free_port) MON=$(free_port)

up_pid=""
start_up() { # start_up N: the Nth start of up, on the same ports and data
	"$BIN" up --data-dir "$OUT/data" --http "127.0.0.1:$HTTP" --ops "127.0.0.1:$OPS" --kafka "127.0.0.1:$KAFKA" \
		--nats "127.0.0.1:$NATS" --leafnodes "127.0.0.1:$LEAF" --ws "127.0.0.1:$WS1,127.0.0.1:$WS2" \
		--monitor "127.0.0.1:$MON" --log-level warn >"$OUT/up-$1.out" 2>"$OUT/up-$1.err" &
	up_pid=$!
	pids+=("$up_pid")
}

# watcher N: a viewer of the match, started again until it connects (the
# running one's PID in watch-N.pid). UTC, so that window starts read as
# seconds of the day.
watcher() {
	while :; do
		TZ=UTC "$BIN" watch --ws "ws://127.0.0.1:$WS1" --match "$MATCH" >>"$OUT/watch-$1.txt" 2>>"$OUT/watch-$1.err" &
		echo $! >"$OUT/watch-$1.pid"
		wait $! || true
		sleep 0.05 # retry the connection
	done
}

# first_after FILE T: the first swarm line in FILE whose window ends after
# T, as "arrival source window-start"; arrival = window end + the latency
# watch prints (a Go duration: 412ms, 1.234s, 1m2.5s).
first_after() {
	awk -v t="$2" '
	function dur(s,   m) { if (s ~ /ms$/) return substr(s, 1, length(s) - 2) / 1000
		m = 0; if (match(s, /^[0-9]+m/)) { m = substr(s, 1, RLENGTH - 1); s = substr(s, RLENGTH + 1) }
		return m * 60 + substr(s, 1, length(s) - 1) }
	$1 ~ /^(live|latest|recovered)$/ && $2 ~ /^[0-9][0-9]:/ {
		split($2, h, ":"); sod = h[1] * 3600 + h[2] * 60 + h[3]
		d = (t % 86400) - sod; while (d >= 43200) d -= 86400; while (d < -43200) d += 86400
		end = t - d + 2
		for (i = 3; i < NF; i++) if ($i == "latency") lat = dur($(i + 1))
		if (end > t) { printf "%.3f %s %s\n", end + lat, $1, $2; exit } }' "$1" 2>/dev/null
}

start_up 0
wait_line "$OUT/up-0.out" 'EmoStream is up' >/dev/null
(while :; do
	curl -s -o /dev/null -m 1 -H 'Content-Type: application/json' \
		-d "{\"user_id\":\"u-$RANDOM$RANDOM\",\"match_id\":\"$MATCH\",\"emoji_type\":\"🔥\"}" "http://127.0.0.1:$HTTP/v1/emojis" || true
	sleep 0.05 # the sending pace
done) &
pids+=($!)
sleep "$SETTLE" # swarms flow before the first restart

: >"$OUT/summary.txt"
for k in $(seq "$RESTARTS"); do
	load=$(cut -d' ' -f1 /proc/loadavg)
	t_stop=$(now)
	kill "-$KILL" "$up_pid"
	wait "$up_pid" || true
	t_start=$(now)
	start_up "$k"
	watcher "$k" &
	wpid=$!
	ready="" first=""
	for _ in $(seq 600); do
		[[ -n $ready ]] || ! grep -q 'EmoStream is up' "$OUT/up-$k.out" || ready=$(now)
		first=$(first_after "$OUT/watch-$k.txt" "$t_stop")
		[[ -z $first ]] || break
		sleep 0.05 # a poll interval
	done
	kill "$wpid" 2>/dev/null || true
	kill "$(cat "$OUT/watch-$k.pid")" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	[[ -n $first ]] || { echo "restart $k: no swarm within 30 s (logs in $OUT)" >&2; exit 1; }
	read -r at src win <<<"$first"
	printf 'restart %d: ready %.2f s, first swarm %.2f s after the start (%.2f s after the stop): %s window %s; load average %s\n' \
		"$k" "$(echo "${ready:-$at} - $t_start" | bc -l)" "$(echo "$at - $t_start" | bc -l)" "$(echo "$at - $t_stop" | bc -l)" \
		"$src" "$win" "$load" | tee -a "$OUT/summary.txt"
	sleep "$SETTLE" # swarms flow again before the next restart
done
awk '{ r[NR] = $4; f[NR] = $8; s[NR] = substr($13, 2) }
function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return sprintf("%.2f s (%.2f-%.2f)", n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2, a[1], a[n]) }
END { n = NR; printf "over %d restarts (SIG%s): ready %s; first swarm after the start %s", n, kill, med(r, n), med(f, n)
	printf "; after the stop %s\n", med(s, n) }' kill="$KILL" "$OUT/summary.txt" | tee -a "$OUT/summary.txt"
echo "logs in $OUT"
