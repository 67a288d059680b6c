#!/bin/sh
# GET /metrics on a real server after an async run's 300 ms cook on the
# loop: Prometheus' text format (promtool check metrics where installed,
# and a strict reading here: HELP and TYPE before each family's samples,
# a number per sample, histogram buckets non-decreasing with +Inf equal
# to _count), one stall counted, the lag at least the cook, the stall
# stored. Ends "N passed, N failed".
#   sh tests/metrics.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"

if ! command -v curl >/dev/null 2>&1; then
	ok "skipped: no curl here"
	finish
fi
db="$dir/baedal.db"
start_server "$db" --http 127.0.0.1:0
http=$(sed -n 's/^http on .*:\([0-9][0-9]*\)$/\1/p' "$dir/server.log")
$client --plain run async A:300ms:10ms >"$dir/run.out" 2>&1
if [ "$?" -eq 0 ]; then ok "the run ends with 0"; else not_ok "the run ends with 0"; fi
# A run its deadline cuts short ends too, and is counted as such.
$client --plain run offload --deadline 20ms A:10s >"$dir/late.out" 2>&1
curl -s -D "$dir/head" -o "$dir/metrics" "http://127.0.0.1:$http/metrics"
stop_server

if grep -qi '^content-type: text/plain; version=0.0.4' "$dir/head"; then
	ok "content type text/plain; version=0.0.4"
else
	not_ok "content type text/plain; version=0.0.4"
fi
if [ -x /usr/bin/promtool ]; then
	if /usr/bin/promtool check metrics <"$dir/metrics" >"$dir/prom" 2>&1; then
		ok "promtool check metrics"
	else
		not_ok "promtool check metrics"
		cat "$dir/prom"
	fi
fi

# The strict reading: prints what is wrong, nothing when all is well.
awk '
/^# HELP / { help[$3] = 1; next }
/^# TYPE / { if (!help[$3]) print "TYPE before HELP: " $3; type[$3] = $4; next }
/^#/ { print "a comment that is not HELP or TYPE: " $0; next }
{
	name = $1; sub(/\{.*/, "", name)
	fam = name
	if (!(fam in type)) { fam = name; sub(/_(bucket|sum|count)$/, "", fam) }
	if (!(fam in type)) print "a sample before its TYPE: " $0
	if (NF != 2 || $2 !~ /^-?[0-9.e+-]+$/) print "not NAME VALUE: " $0
	if (name ~ /_bucket$/) {
		if ($2 + 0 < last[fam]) print "bucket below the one before: " $0
		last[fam] = $2 + 0
		if ($1 ~ /le="\+Inf"/) inf[fam] = $2
	}
	if (name ~ /_count$/ && type[fam] == "histogram" && inf[fam] != $2)
		print "+Inf bucket is not _count: " fam
	if (type[fam] == "counter" && fam !~ /_total$/) print "a counter without _total: " fam
}' "$dir/metrics" >"$dir/problems"
if [ -s "$dir/metrics" ] && [ ! -s "$dir/problems" ]; then
	ok "the exposition reads strictly"
else
	not_ok "the exposition reads strictly"
	cat "$dir/problems"
fi

value() { sed -n "s/^$1 //p" "$dir/metrics"; }
if [ "$(value baedal_loop_stalls_total)" = 1 ]; then ok "one stall"; else
	not_ok "one stall: $(value baedal_loop_stalls_total)"; fi
worst=$(sed -n 's/^baedal_loop_lag_seconds_bucket{le="0.25"} //p' "$dir/metrics")
count=$(value baedal_loop_lag_seconds_count)
if [ -n "$count" ] && [ "$count" -gt "${worst:-0}" ]; then
	ok "some lag above 250 ms"
else
	not_ok "some lag above 250 ms ($worst of $count at most 250 ms)"
fi
for m in baedal_loop_busy_seconds_total baedal_loop_iterations_total \
         baedal_timer_lateness_seconds_count baedal_orders_in_flight baedal_connections \
         baedal_sessions baedal_store_queue_depth baedal_store_commit_seconds_count \
         baedal_store_lag_seconds baedal_worker_queue_depth; do
	if [ -n "$(value $m)" ]; then ok "has $m"; else not_ok "has $m"; fi
done
if grep -q '^baedal_runs_total{mode="async",status="done"} 1$' "$dir/metrics" &&
   grep -q '^baedal_runs_total{mode="offload",status="timed_out"} 1$' "$dir/metrics"; then
	ok "runs_total by mode and status, timed_out included"
else
	not_ok "runs_total by mode and status, timed_out included"
	grep '^baedal_runs_total' "$dir/metrics"
fi
if [ "$(sqlite3 "$db" "select count(*) from stalls where cause = 'cook' and duration_us >= 300000")" = 1 ]; then
	ok "the stall is stored"
else
	not_ok "the stall is stored"
fi
finish
