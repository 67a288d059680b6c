# Shared by the shell tests (tests/*.test.sh): a temporary directory, the
# counts and the closing line "N passed, N failed", the real baedald
# started on port 0 and stopped by its PID, and tmux panes read back with
# capture-pane. A test sets BUILD, then sources this file:
#   BUILD=${1:-build}
#   . "$(dirname "$0")/lib.sh"
passed=0
failed=0
dir=$(mktemp -d)
sock="$dir/tmux.sock"
server_pid=""

# Whatever happens, the test's tmux server and baedald stop and its
# directory goes.
lib_cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap lib_cleanup EXIT
trap 'exit 1' INT TERM

ok() { passed=$((passed + 1)); echo "ok: $1"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $1"; }
# check NAME FILE PATTERN: FILE has a line matching PATTERN.
check() {
	if grep -qE -- "$3" "$2"; then ok "$1"; else not_ok "$1"; echo "--- $2:"; cat "$2"; fi
}
# check_not NAME FILE PATTERN: no line of FILE matches PATTERN.
check_not() {
	if grep -qE -- "$3" "$2"; then not_ok "$1"; echo "--- $2:"; cat "$2"; else ok "$1"; fi
}
# status NAME WANT GOT: a command exited with WANT
status() {
	if [ "$3" = "$2" ]; then ok "$1"; else not_ok "$1: exit $3, want $2"; fi
}
# check_screen NAME FILE PATTERN: FILE (a captured screen) has a line
# matching PATTERN; else the screen is shown.
check_screen() {
	if grep -qE -- "$3" "$2"; then ok "$1"; else not_ok "$1"; echo "--- screen:"; cat "$2"; fi
}

# The closing line, and the test's status: it fails if any check failed or
# none ran.
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit $?
}

# start_server DB [FLAG...]: baedald on 127.0.0.1:0 with its log in
# $dir/server.log; sets port and client (the baedal command line for it).
# A server that does not say where it listens within 30 s fails the test.
start_server() {
	db=$1
	shift
	"$BUILD/baedald" --listen 127.0.0.1:0 --db "$db" "$@" 2>"$dir/server.log" &
	server_pid=$!
	port=""
	for _ in $(seq 1 600); do
		port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$dir/server.log")
		[ -n "$port" ] && break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		not_ok "baedald starts"
		cat "$dir/server.log"
		finish
	fi
	client="$BUILD/baedal --server 127.0.0.1:$port"
}

# stop_server: SIGTERM, and its exit status in server_status.
stop_server() {
	kill "$server_pid"
	wait "$server_pid"
	server_status=$?
	server_pid=""
}

# pane NAME COMMAND [WIDTH]: runs COMMAND on a terminal of WIDTH (100)
# columns and 30 rows; the pane then shows EXIT=<its status> and stays.
pane() {
	tmux -S "$sock" new-session -d -s "$1" -x "${3:-100}" -y 30 \
		"TERM=xterm-256color $2; echo EXIT=\$?; sleep 120"
}
capture() { tmux -S "$sock" capture-pane -p -t "$1" >"$2"; }
# wait_for PANE PATTERN: waits (at most 60 s) until the pane shows a line
# matching PATTERN; the screen it last read is in $dir/wait.
wait_for() {
	i=0
	while [ $i -lt 600 ]; do
		capture "$1" "$dir/wait"
		grep -qE -- "$2" "$dir/wait" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
