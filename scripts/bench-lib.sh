# Shared by scripts/viewers-bench.sh and scripts/edge-bench.sh, sourced once
# OUT is set: the processes to stop at exit, and reading their output and
# /proc.

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$OUT/hub-data"
}
trap cleanup EXIT

# wait_line FILE REGEX: the first matching line of FILE, within 60 s.
wait_line() {
	for _ in $(seq 600); do
		if line=$(grep -m1 -E "$2" "$1" 2>/dev/null); then
			echo "$line"
			return
		fi
		sleep 0.1
	done
	echo "timed out waiting for /$2/ in $1" >&2
	exit 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
