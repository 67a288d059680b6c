#!/bin/sh
# How runs end, as a user sees it: the real baedal against the real
# baedald, piped, as --json and on a terminal (tmux). A run its deadline
# cut short fails the command and shows no speed-up; the totals' heads
# stay apart; the stall note names the orders. Ends "N passed, N failed".
#   sh tests/client_runs.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
unset BAEDAL_TOKEN

start_server "$dir/baedal.db" --http off
late="--deadline 350ms A:300ms B:300ms C:400ms"

# 1. A run that times out fails, piped, as --json and side by side.
# shellcheck disable=SC2086 # $late is words
$client --plain run async $late >"$dir/out" 2>"$dir/err"
status "a timed-out run exits 1" 1 $?
check "stderr says which run timed out" "$dir/err" '^baedal: run [0-9]+ timed out: 1 of its 3 orders cancelled$'
check "its done line keeps elapsed, no overhead nor speed-up" "$dir/out" \
	'^async run=[0-9]+  timed_out  3 orders  elapsed [0-9.]+ ms  ideal 400\.000 ms  overhead -  speed-up -$'
check "its totals row says timed_out" "$dir/out" '^async +3 +timed_out$'
# shellcheck disable=SC2086
$client --json run async $late >"$dir/json" 2>"$dir/err"
status "a timed-out run exits 1 with --json" 1 $?
check "its done object has no overhead nor speed-up" "$dir/json" \
	'"type":"done".*"status":"timed_out".*"elapsed_ms":[0-9.]+,.*"overhead_ms":null,"speedup":null'
# shellcheck disable=SC2086
$client --plain compare $late >"$dir/out" 2>"$dir/err"
status "a compare whose runs time out exits 1" 1 $?
check_not "no speed-up for them" "$dir/out" 'speed-up [0-9]'
$client --plain run async A:10ms >"$dir/out" 2>"$dir/err"
status "a run done in full exits 0" 0 $?
check "and shows its speed-up" "$dir/out" '^async run=[0-9]+  done  1 order  .*  overhead [-+][0-9.]+ ms  speed-up [0-9.]+x$'

# 2. On a terminal too, with its totals.
pane late "$client run async $late"
if wait_for late 'EXIT='; then ok "the live view ends"; else not_ok "the live view ends"; fi
capture late "$dir/screen"
check "a timed-out run exits 1 on a terminal" "$dir/screen" '^EXIT=1$'
check "the terminal's totals say timed_out" "$dir/screen" '^async +3 +timed_out$'

# 3. The totals of runs that cooked: two spaces between every head, even
# without a sync run ("speed-up", not "vs sync"); rows of runs cut short
# aligned with the others.
$client run offload A:200ms:300ms B:100ms >"$dir/out" 2>/dev/null
check "the cook table's heads stay apart" "$dir/out" \
	'^mode +orders  elapsed +ideal +overhead  speed-up  cook +blocked  caused$'
$client --plain compare --cook --deadline 250ms A:10ms:100ms B:100ms C:1s >"$dir/out" 2>/dev/null
status "compare --cook cut short exits 1" 1 $?
check "a cut-short sync row aligned with offload's" "$dir/out" '^sync     3       timed_out$'
check "a cut-short offload row" "$dir/out" '^offload  3       timed_out$'

# 4. Piped, the stall note names the orders cooked, on one line however
# long it is.
$client compare --cook A:10ms:50ms Bravo_kitchen:150ms:50ms Charlie_kitchen:150ms:100ms \
	</dev/null >"$dir/out" 2>/dev/null
check "the stall note names the orders, unbroken" "$dir/out" \
	"^The loop stalled 2 times: [0-9]+ ms, [0-9]+ ms \\(async's cooks of Bravo_kitchen and Charlie_kitchen\\)\\.$"

finish
