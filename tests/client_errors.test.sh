#!/bin/sh
# What the real baedal says when the real baedald (with a token) turns
# it down: no session line for a command that ran nothing, and the same
# advice about the token from every command. Ends "N passed, N failed".
#   sh tests/client_errors.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
unset BAEDAL_TOKEN BAEDAL_HTTP BAEDAL_SERVER

echo client-errors-secret >"$dir/token"
start_server "$dir/baedal.db" --http 127.0.0.1:0 --token-file "$dir/token" --max-meal 1s \
	--max-orders 2 --max-cook 100ms
http=$(sed -n 's/^http on \(.*\)$/\1/p' "$dir/server.log")

# check NAME FILE PATTERN: FILE has a line matching PATTERN.
check() {
	if grep -qE -- "$3" "$2"; then ok "$1"; else not_ok "$1"; echo "--- $2:"; cat "$2"; fi
}
# check_not NAME FILE PATTERN: no line of FILE matches PATTERN.
check_not() {
	if grep -qE -- "$3" "$2"; then not_ok "$1"; echo "--- $2:"; cat "$2"; else ok "$1"; fi
}
# status NAME WANT GOT
status() {
	if [ "$3" = "$2" ]; then ok "$1"; else not_ok "$1: exit $3, want $2"; fi
}

# 1. A command the server refuses ran nothing: no session to reattach to.
for refused in "run async A:2s" "run async A:1ms B:1ms C:1ms" "run offload A:200ms:1ms" \
	"compare A:2s"; do
	# shellcheck disable=SC2086 # $refused is words
	BAEDAL_TOKEN=client-errors-secret $client $refused >/dev/null 2>"$dir/err"
	status "$refused: refused, exit 1" 1 $?
	check "$refused: the server's reason" "$dir/err" '^baedal: server said: ERR '
	check_not "$refused: no session line" "$dir/err" '^session '
done
BAEDAL_TOKEN=wrong-token $client run async A:1ms >/dev/null 2>"$dir/err"
check "a wrong token: the server's reason" "$dir/err" '^baedal: server said: ERR bad_token'
check_not "a wrong token: no session line" "$dir/err" '^session '
BAEDAL_TOKEN=client-errors-secret $client run async A:1ms >/dev/null 2>"$dir/err"
status "an accepted run: exit 0" 0 $?
check "an accepted run: its session line" "$dir/err" \
	"^session [0-9a-f]{32} \\(reattach: baedal --server 127\\.0\\.0\\.1:$port attach [0-9a-f]{32}\\)$"

# 2. Without the token every command says what to do about it.
want="needs a token: set BAEDAL_TOKEN or use --token-file PATH$"
for cmd in "top --once" "run async A:1ms" "runs 0123456789abcdef0123456789abcdef" "replay 1"; do
	# shellcheck disable=SC2086 # $cmd is words
	$client $cmd >/dev/null 2>"$dir/err"
	status "$cmd without the token: exit 1" 1 $?
	check "$cmd without the token: how to give it" "$dir/err" "^baedal: 127\\.0\\.0\\.1:$port $want"
done
"$BUILD/baedal" export 1 --svg "$dir/x.svg" --http "$http" 2>"$dir/err"
status "export without the token: exit 1" 1 $?
check "export without the token: how to give it" "$dir/err" "^baedal: export run 1: $http $want"

finish
