# The unit costs of the capacity model (capacity/units.go) from a run of
# `scripts/capacity-check.sh calibrate`: awk -v P=partitions -v M=matches
# -v L=leaves -v E=edges -v V=viewers -v W=window_seconds -f this
# measured.txt rates.txt. Base is the idle phase's CPU per process; each
# tier's CPU in the load phases less its idle CPU is fitted by least
# squares to its drivers (the rates measured in the same phases):
#   ingest: requests, produce requests, events   kafka: produce requests, MB
#   bridge: 1 (its consuming, per partition), events
#   processor: partition × match entries   hub: messages   leaf, edge: deliveries
# A driver that does not vary between the phases cannot be told apart from
# another: the fit prints each phase's figures, so judge it.
FNR == NR { cores[$1, $2] = $4; procs[$2] = $3; rss[$1, $2] = $5; if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 } next }
{ rate[$1, $2] = $3 }
function y(ph, t) { return cores[ph, t] - cores["idle", t] }
# x(ph, key): a driver in a phase: a rate's name, or =number for a constant.
function x(ph, key) { return key ~ /^=/ ? substr(key, 2) + 0 : rate[ph, key] }
# fit(t, keys): least squares of y over the load phases on the drivers in
# keys (space-separated); the coefficients go to c[1..k], per second of
# driver, in microseconds.
function fit(t, keys,   k, key, i, j, l, n, ph, A, b, f, tmp) {
	k = split(keys, key, " ")
	for (i = 1; i <= k; i++) { b[i] = 0; for (j = 1; j <= k; j++) A[i, j] = 0 }
	for (n = 1; n <= nl; n++) { ph = load[n]
		for (i = 1; i <= k; i++) { b[i] += x(ph, key[i]) * y(ph, t); for (j = 1; j <= k; j++) A[i, j] += x(ph, key[i]) * x(ph, key[j]) } }
	for (i = 1; i <= k; i++) { # Gauss-Jordan with partial pivoting
		l = i; for (j = i + 1; j <= k; j++) if ((A[j, i] < 0 ? -A[j, i] : A[j, i]) > (A[l, i] < 0 ? -A[l, i] : A[l, i])) l = j
		for (j = 1; j <= k; j++) { tmp = A[i, j]; A[i, j] = A[l, j]; A[l, j] = tmp }; tmp = b[i]; b[i] = b[l]; b[l] = tmp
		if (A[i, i] == 0) { printf "%s: drivers %s do not vary apart; no fit\n", t, keys; return 0 }
		for (j = 1; j <= k; j++) if (j != i) { f = A[j, i] / A[i, i]; for (l = 1; l <= k; l++) A[j, l] -= f * A[i, l]; b[j] -= f * b[i] } }
	for (i = 1; i <= k; i++) c[i] = b[i] / A[i, i] * 1e6
	for (n = 1; n <= nl; n++) { ph = load[n]; f = 0
		printf "  %s %s: %.4f cores over idle;", t, ph, y(ph, t)
		for (i = 1; i <= k; i++) { printf " %s %.1f/s", key[i], x(ph, key[i]); f += c[i] * x(ph, key[i]) / 1e6 }
		printf "; fitted %.4f\n", f }
	return 1
}
END {
	for (i = 1; i <= np; i++) if (order[i] != "start" && order[i] != "idle") load[++nl] = order[i]
	last = load[nl]
	for (t in procs) printf "%s: base %.4f cores per process (idle phase), RSS %.1f MiB per process (%s)\n", t, cores["idle", t] / procs[t], rss[last, t] / procs[t], last
	for (i = 1; i <= nl; i++) { ph = load[i]; rate[ph, "mb_per_s"] = rate[ph, "kafka_bytes_per_s"] / 1e6
		printf "%s: %.1f requests/s, %.1f produces/s (%.1f records each, mean produce %.2f ms), %.1f bytes a record on disk\n", ph,
			rate[ph, "requests_per_s"], rate[ph, "produces_per_s"], rate[ph, "events_per_s"] / rate[ph, "produces_per_s"],
			rate[ph, "produce_ms_per_s"] / rate[ph, "produces_per_s"], rate[ph, "kafka_bytes_per_s"] / rate[ph, "events_per_s"] }
	if (fit("ingest", "requests_per_s produces_per_s events_per_s")) printf "ingest: %.2f us per request, %.2f us per produce, %.3f us per event\n", c[1], c[2], c[3]
	if (fit("kafka", "produces_per_s mb_per_s")) printf "kafka: %.1f us per produce request, %.0f us per MB of records\n", c[1], c[2]
	if (fit("bridge", "=1 bridge_events_per_s")) printf "bridge: %.4f cores while consuming %d partitions (%.4f a partition), %.3f us per event\n", c[1] / 1e6, P, c[1] / 1e6 / P, c[2]
	if (fit("processor", "=" P * M / W)) printf "processor: %.1f us per partition x match entry\n", c[1]
	if (fit("hub", "=" ((P + 2 * M) / W + M * L / W))) printf "hub: %.1f us per message stored or forwarded\n", c[1]
	if (fit("leaf", "=" E * M / W)) printf "leaf: %.1f us per swarm delivered to an edge\n", c[1]
	if (fit("edge", "deliveries_per_s")) printf "edge: %.2f us per swarm written to a viewer\n", c[1]
	printf "edge: %.2f KiB RSS per viewer (%s against start), base %.1f MiB per edge\n", (rss[last, "edge"] - rss["start", "edge"]) * 1024 / V, last, rss["start", "edge"] / procs["edge"]
	if (rate["idle", "slab_kib"] != "") printf "kernel: %.2f KiB of slab per connection (idle against start, two sockets a viewer)\n", (rate["idle", "slab_kib"] - rate["start", "slab_kib"]) / (2 * V)
}
