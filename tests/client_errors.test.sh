#!/bin/sh
# What the real baedal says when the real baedald (with a token) turns
# it down: no session line for a command that ran nothing, the same
# advice about the token from every command, export's usage errors.
# Ends "N passed, N failed".
#   sh tests/client_errors.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
unset BAEDAL_TOKEN BAEDAL_HTTP BAEDAL_SERVER

echo client-errors-secret >"$dir/token"
start_server "$dir/baedal.db" --http 127.0.0.1:0 --token-file "$dir/token" --max-meal 1s \
	--max-orders 2 --max-cook 100ms
http=$(sed -n 's/^http on \(.*\)$/\1/p' "$dir/server.log")

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
BAEDAL_TOKEN=client-errors-secret $client --plain run async A:1ms >"$dir/out" 2>"$dir/err"
status "an accepted run: exit 0" 0 $?
run=$(sed -n 's/^async run=\([0-9]*\)  done.*/\1/p' "$dir/out")
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

# 3. export speaks HTTP: the options of the other commands are refused,
# naming what to use; what is missing is said before the usage; a write
# that fails names the user's file, not the one written first.
export BAEDAL_TOKEN=client-errors-secret
# export_refused NAME PATTERN ARGS...: exit 2, the reason, then the usage.
export_refused() {
	name=$1
	pattern=$2
	shift 2
	"$BUILD/baedal" "$@" >"$dir/out" 2>"$dir/err"
	status "$name: exit 2" 2 $?
	if head -n 1 "$dir/err" | grep -qE -- "$pattern" && sed -n 2p "$dir/err" | grep -q '^usage: baedal export'; then
		ok "$name: its reason, then the usage"
	else
		not_ok "$name: its reason, then the usage"
		cat "$dir/err"
	fi
	[ -e "$dir/x.svg" ] && not_ok "$name: no file written" && rm -f "$dir/x.svg"
}
export_refused "export --server" '^baedal: export does not use --server: .*--http HOST:PORT' \
	--server "127.0.0.1:$port" export "$run" --svg "$dir/x.svg"
export_refused "export --json" '^baedal: export takes no --json: it writes the file' \
	--json export "$run" --svg "$dir/x.svg" --http "$http"
export_refused "export --plain after it" '^baedal: export takes no --plain' \
	export "$run" --svg "$dir/x.svg" --plain --http "$http"
export_refused "export without a file" '^baedal: export needs --svg FILE or --trace FILE$' \
	export "$run" --http "$http"
export_refused "export without a run" '^baedal: export needs a RUN' \
	export --svg "$dir/x.svg" --http "$http"
"$BUILD/baedal" export "$run" --svg "$dir/x.svg" --http "$http" 2>"$dir/err"
status "export with its own options: exit 0" 0 $?
check "export wrote the SVG" "$dir/x.svg" '<svg'
rm -f "$dir/x.svg"
# A wrapper's --server (the compose file's client) with --http: let be.
"$BUILD/baedal" --server "127.0.0.1:$port" export "$run" --http "$http" --svg - >"$dir/x.svg" \
	2>"$dir/err"
status "export after a wrapper's --server, with --http: exit 0" 0 $?
check "it wrote the SVG" "$dir/x.svg" '<svg'
"$BUILD/baedal" export "$run" --svg "$dir/no/such/x.svg" --http "$http" 2>"$dir/err"
status "export to a directory that is not there: exit 1" 1 $?
check "the error names the file asked for" "$dir/err" \
	"^baedal: export run $run: $dir/no/such/x\.svg: No such file or directory$"
check_not "not the .part file" "$dir/err" '\.part'

finish
