# The unit costs of the capacity model (capacity/units.go) from a run of
# `scripts/capacity-check.sh calibrate`: awk -v P=partitions -v M=matches
# -v L=leaves -v E=edges -v V=viewers -v W=window_seconds -f this
# measured.txt rates.txt. Base is the idle phase's CPU per process; a
# slope is a load phase's CPU less the idle phase's over its rate (least
# squares through the origin over the load phases); ingest's two slopes
# (per request, per event) are solved from the first two load phases.
FNR == NR { cores[$1, $2] = $4; procs[$2] = $3; rss[$1, $2] = $5; if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 } next }
{ rate[$1, $2] = $3 }
function y(ph, t) { return cores[ph, t] - cores["idle", t] }
function fit(t, key, scale,   i, ph, x, sxy, sxx) {
	for (i = 1; i <= np; i++) { ph = order[i]; if (ph == "start" || ph == "idle") continue
		x = (key ~ /^=/ ? substr(key, 2) : rate[ph, key]) * scale; sxy += x * y(ph, t); sxx += x * x
		printf "  %s %s: %.4f cores over %.1f units/s = %.3f us each\n", t, ph, y(ph, t), x, x > 0 ? y(ph, t) / x * 1e6 : 0 }
	return sxx > 0 ? sxy / sxx * 1e6 : 0
}
END {
	for (i = 1; i <= np; i++) if (order[i] != "start" && order[i] != "idle") load[++nl] = order[i]
	a = load[1]; b = load[2]; last = load[nl]
	for (t in procs) printf "%s: base %.4f cores per process (idle phase), RSS %.1f MiB per process (%s)\n", t, cores["idle", t] / procs[t], rss[last, t] / procs[t], last
	if (nl >= 2) {
		r1 = rate[a, "requests_per_s"]; e1 = rate[a, "events_per_s"]; r2 = rate[b, "requests_per_s"]; e2 = rate[b, "events_per_s"]
		creq = (y(a, "ingest") * e2 - y(b, "ingest") * e1) / (r1 * e2 - r2 * e1); cev = (y(a, "ingest") - creq * r1) / e1
		printf "ingest: %.2f us per request, %.3f us per event (phases %s, %s)\n", creq * 1e6, cev * 1e6, a, b
	}
	if (nl >= 2) {
		p1 = rate[a, "produces_per_s"]; m1 = rate[a, "kafka_bytes_per_s"] / 1e6; p2 = rate[b, "produces_per_s"]; m2 = rate[b, "kafka_bytes_per_s"] / 1e6
		cprod = (y(a, "kafka") * m2 - y(b, "kafka") * m1) / (p1 * m2 - p2 * m1); cmb = (y(a, "kafka") - cprod * p1) / m1
		printf "kafka: %.1f us per produce request, %.0f us per MB of records (phases %s, %s)\n", cprod * 1e6, cmb * 1e6, a, b
		for (i = 1; i <= nl; i++) printf "  %s: %.1f produces/s of %.1f records, mean produce %.2f ms\n", load[i], rate[load[i], "produces_per_s"],
			rate[load[i], "events_per_s"] / rate[load[i], "produces_per_s"], rate[load[i], "produce_ms_per_s"] / rate[load[i], "produces_per_s"]
	}
	printf "kafka: %.1f bytes per record on disk (%s)\n", rate[last, "kafka_bytes_per_s"] / rate[last, "events_per_s"], last
	printf "bridge: %.3f us per event\n", fit("bridge", "bridge_events_per_s", 1)
	printf "processor: %.1f us per partition x match entry\n", fit("processor", "=" P * M / W, 1)
	printf "hub: %.1f us per message stored or forwarded\n", fit("hub", "=" ((P + 2 * M) / W + M * L / W), 1)
	printf "leaf: %.1f us per swarm delivered to an edge\n", fit("leaf", "=" E * M / W, 1)
	printf "edge: %.2f us per swarm written to a viewer\n", fit("edge", "deliveries_per_s", 1)
	printf "edge: %.2f KiB RSS per viewer (%s against start), base %.1f MiB per edge\n", (rss[last, "edge"] - rss["start", "edge"]) * 1024 / V, last, rss["start", "edge"] / procs["edge"]
}
