#!/bin/sh
# The lesson, live: starts baedald on a free port with the database at DB,
# runs `baedal demo` (A 3 s, B 3 s, C 4 s, sync and async side by side),
# then its second half, `baedal demo --cook` (A:10ms:100ms B:450ms:100ms
# C:450ms:1s: sync, async and offload in turn), then
# stops the server and says where the results are. The server serves the
# web view on its default HTTP address (127.0.0.1:7879), or on a free port
# when that one is taken; the demo prints the page's URL.
#   sh tests/demo.sh BUILD_DIR DB
set -eu
BUILD=${1:-build}
DB=${2:-baedal.db}
log=$(mktemp)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server [ARG...]: baedald on a free protocol port; sets pid and port.
start_server() {
	"$BUILD/baedald" --listen 127.0.0.1:0 --db "$DB" "$@" 2>"$log" &
	pid=$!
	port=""
	for _ in $(seq 1 100); do
		port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$log")
		[ -n "$port" ] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$log" >&2
			exit 1
		fi
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "demo: baedald did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
}
# The HTTP address is logged before the protocol's, so it is known by now.
http_addr() { sed -n 's/^http on \(.*\)$/\1/p' "$log"; }

start_server
if [ -z "$(http_addr)" ] && grep -q "cannot listen for http" "$log"; then
	# The default HTTP port is taken (another baedald?): any free one will do.
	kill -TERM "$pid"
	wait "$pid" || true
	start_server --http 127.0.0.1:0
fi
echo "baedald is listening on 127.0.0.1:$port, storing to $DB"
http=$(http_addr)
if [ -n "$http" ]; then
	echo "Watch it in a browser: http://$http/s/SESSION draws a session's runs live,"
	echo "SESSION being the id printed below (http://$http/ lists every run)."
else
	echo "The web view is off (BAEDAL_HTTP=off)."
fi
echo
"$BUILD/baedal" --server "127.0.0.1:$port" demo
echo
echo "Act 2: cooking is CPU work. async cooks on the event loop, and while a cook"
echo "runs nothing on the server moves: A's and B's short meals come due during the"
echo "next order's cook and end late (the clocks stop; '^' marks the held loop)."
echo "offload cooks on worker threads and nothing waits. The three runs take turns,"
echo "so that one run's cooking does not slow another's."
echo
"$BUILD/baedal" --server "127.0.0.1:$port" demo --cook
kill -TERM "$pid"
wait "$pid" || { echo "demo: baedald did not stop cleanly" >&2; exit 1; }
pid=""
echo
# The demo's server was its own: its two compares are the last two groups.
groups=$(sqlite3 "$DB" "select group_concat(quote(group_id), ', ') from
	(select group_id from comparison order by sync_run desc limit 2)" 2>/dev/null || true)
echo "Every timing is in $DB. How much faster than sync, in this demo's two compares:"
echo "  sqlite3 -header -column $DB \"select group_id, sync_ms, async_ms, offload_ms," \
	"async_speedup, offload_speedup from comparison where group_id in (${groups:-''})\""
echo "More questions, one query each: README.md, \"Querying the results\"."
