#!/bin/sh
# The page in a real browser: headless Chromium loads a session's page
# while a compare (sync and async, A 2 s, B 2 s, C 3 s) runs, and then an
# async run whose 300 ms cook on the loop stalls it; the rendered DOM
# must show the three runs with every order collected, their totals, and
# the stall (a red span on a loop row, "loop stalled ... ms" under the
# totals). Then the same browser opens the list of recent runs at /, the
# client starts a run once the list is drawn, and the list must show the
# new run and later its final status, without a reload. The screenshots
# are kept: <build>/browser/page.png and recent.png.
#   sh tests/browser.sh [BUILD_DIR [PICTURES_DIR]]   (make browser-test)
# With PICTURES_DIR (make pictures), the screenshot and the lesson's SVG
# timeline from this real run are copied there for the README.
set -eu
BUILD=${1:-build}
pictures=${2:-}
out="$BUILD/browser"
rm -rf "$out"
mkdir -p "$out"
dir=$(mktemp -d)
srv_pid=""
browser_pid=""
# The browser's helper processes (network service, renderers) can outlive
# the main one and go on writing to the profile, so every process that
# names this run's profile is stopped and waited for before the profile is
# removed: the profile's path is the one mark all of them carry.
browser_left() {
	pgrep -f -- "--user-data-dir=$dir/profile" >/dev/null
}
# Bounded: a browser that ignores SIGTERM for 10 s gets SIGKILL.
stop_browser() {
	kill -TERM "$browser_pid" 2>/dev/null || true
	pkill -TERM -f -- "--user-data-dir=$dir/profile" 2>/dev/null || true
	i=0
	while browser_left && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	pkill -KILL -f -- "--user-data-dir=$dir/profile" 2>/dev/null || true
	kill -KILL "$browser_pid" 2>/dev/null || true
	wait "$browser_pid" 2>/dev/null || true
}
cleanup() {
	[ -n "$browser_pid" ] && stop_browser
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	for _ in 1 2 3 4 5; do
		rm -rf "$dir" 2>/dev/null && return 0
		sleep 0.2
	done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$BUILD/baedald" --listen 127.0.0.1:0 --http 127.0.0.1:0 --db "$dir/baedal.db" 2>"$out/baedald.log" &
srv_pid=$!
port=""
tcp=""
for _ in $(seq 100); do
	port=$(sed -n 's/.*http on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/baedald.log")
	tcp=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/baedald.log")
	[ -n "$port" ] && [ -n "$tcp" ] && break
	sleep 0.1
done
[ -n "$port" ] && [ -n "$tcp" ] || { cat "$out/baedald.log"; echo "FAIL: the server did not start"; exit 1; }
base="http://127.0.0.1:$port"

post() {
	curl -sS --fail-with-body -X POST "$@"
}
session=$(post "$base/api/sessions" | sed -n 's/.*"session":"\([0-9a-f]*\)".*/\1/p')
[ -n "$session" ] || { echo "FAIL: no session"; exit 1; }
post -d "session=$session&mode=sync&orders=A:2s+B:2s+C:3s&group=lesson" "$base/api/runs" >/dev/null
post -d "session=$session&mode=async&orders=A:2s+B:2s+C:3s&group=lesson" "$base/api/runs" >/dev/null
post -d "session=$session&mode=async&orders=K:300ms:500ms" "$base/api/runs" >/dev/null

chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
	--disable-breakpad --disable-crash-reporter \
	--user-data-dir="$dir/profile" --remote-debugging-port=0 --window-size=1200,800 \
	"$base/s/$session" >"$out/chromium.log" 2>&1 &
browser_pid=$!
if python3 tests/browser_cdp.py "$dir/profile/DevToolsActivePort" "$out/page.png" 90 \
	"$base/" "$out/recent.png" "$BUILD/baedal" --server "127.0.0.1:$tcp" --plain \
	run async A:2s B:3s >"$out/dom.json"; then
	cat "$out/dom.json"
	echo "screenshots: $out/page.png $out/recent.png"
	if [ -n "$pictures" ]; then
		mkdir -p "$pictures"
		cp "$out/page.png" "$pictures/page.png"
		curl -sS --fail "$base/api/runs/1/timeline.svg" >"$pictures/lesson.svg"
		echo "pictures: $pictures/page.png $pictures/lesson.svg"
	fi
	echo "1 passed, 0 failed"
else
	cat "$out/dom.json"
	echo "FAIL: the page in chromium (log: $out/chromium.log)"
	echo "0 passed, 1 failed"
	exit 1
fi
