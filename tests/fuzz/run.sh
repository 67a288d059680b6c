#!/bin/sh
# Runs each fuzzer for SECONDS on its corpus, one after the other (each
# gets a whole core), then prints one line per fuzzer:
#   fuzz_duration: 1234567 runs in 60 s (20576/s), 0 crashes
# Fails if any fuzzer crashed, leaked, timed out or broke a check; the
# input is kept as DIR/crashes/<target>-crash-<sha1> (or -leak-, -timeout-)
# for a regression test.
#   sh tests/fuzz/run.sh DIR SECONDS TARGET...
set -u
dir=$1
seconds=$2
shift 2
mkdir -p "$dir/crashes" "$dir/logs"
summary=""
failed=""

# The inputs libFuzzer saved for target $1.
artifacts() {
	find "$dir/crashes" -name "$1-*" -type f | wc -l
}

for t in "$@"; do
	log="$dir/logs/$t.log"
	before=$(artifacts "$t")
	echo "== $t: ${seconds} s on $dir/corpus/$t"
	# -max_len: a command line is at most 4096 bytes and a '\r' (the
	# server's reader refuses longer ones before parsing).
	"$dir/$t" -max_total_time="$seconds" -print_final_stats=1 -max_len=4200 -timeout=10 \
		-artifact_prefix="$dir/crashes/$t-" "$dir/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	crashes=$(($(artifacts "$t") - before))
	if [ "$rc" -ne 0 ] || [ -z "$runs" ] || [ "$crashes" -ne 0 ]; then
		grep -v '^"' "$log" | tail -n 30
		failed="$failed $t"
		[ "$crashes" -eq 0 ] && crashes=1   # died without saving an input
	fi
	summary="$summary$t: ${runs:-0} runs in ${secs:-?} s (${rate:-?}/s), $crashes crashes
"
done

echo "== fuzz summary"
printf '%s' "$summary"
if [ -n "$failed" ]; then
	echo "fuzz failed:$failed (log in $dir/logs/, inputs in $dir/crashes/)"
	exit 1
fi
