#!/bin/bash
# docker/test.sh: builds the image and tests it for real, on a private
# Docker engine that this script starts and stops (see `make docker-test`).
#
#   - installs docker.io, docker-compose (v1) and mmdebstrap with apt-get
#     when they are missing (as root; otherwise prints the command and stops);
#   - starts dockerd on a socket in a temporary directory and stops it, by
#     its PID, on exit (also on failure or Ctrl-C), with every container,
#     the compose project and its volume removed first;
#   - makes debian:bookworm-slim from Debian's mirror with mmdebstrap when
#     the engine does not have it (no registry is needed);
#   - builds docker/Dockerfile, runs it, and talks to it through ports
#     published on 127.0.0.1: the protocol with the client built on the host
#     (build/baedal), HTTP with curl (the page, a run's live events) and
#     `baedal export`;
#   - runs docker/compose.yaml under a unique project name: up, a client by
#     service name, down, up again (the volume kept the runs), down -v.
#
# One line per check, "ok - ..." or "not ok - ...", then "N passed, N failed";
# exit status 0 only when every check passed. Every wait has a time limit.
#
# Environment: BAEDAL_DOCKER_CACHE (default /var/cache/baedal-docker) keeps
# the engine's images and build cache between runs, so that a second run
# needs neither mmdebstrap nor a fresh compile; delete it to start clean.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
CLIENT=${BAEDAL_CLIENT:-$ROOT/build/baedal}
COMPOSE_YAML=$ROOT/docker/compose.yaml
CACHE=${BAEDAL_DOCKER_CACHE:-/var/cache/baedal-docker}
PKGS="docker.io docker-compose mmdebstrap python3 curl"
IMAGE=baedal:latest
BASE=debian:bookworm-slim
T0=$(date +%s)

pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
note() { echo "# $*"; }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
# A check that later ones depend on: on failure, stop here.
must() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; finish; fi
}

# ---- packages ---------------------------------------------------------
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ "$(id -u)" != 0 ]; then
	echo "docker-test starts its own Docker engine and must run as root."
	if [ -n "$missing" ]; then
		echo "It needs these Debian packages:$missing"
		echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing"
	fi
	echo "then: sudo make docker-test"
	exit 1
fi
if [ -n "$missing" ]; then
	echo "# installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	if ! timeout 600 apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null ||
		! timeout 900 apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $missing >/dev/null; then
		not_ok "install$missing with apt-get"
		finish
	fi
fi
if [ ! -x "$CLIENT" ]; then
	not_ok "the host client $CLIENT exists (run make all first)"
	finish
fi

# ---- a private engine -------------------------------------------------
W=$(mktemp -d /tmp/baedal-docker.XXXXXX) || exit 1
mkdir -p "$CACHE/data" "$W/bin"
# The engine's data directory is shared between runs: one run at a time.
exec 9>"$CACHE/lock"
if ! flock -w 900 9; then
	not_ok "lock $CACHE/lock (another docker-test is running)"
	rm -rf "$W"
	finish
fi

# Debian's docker client has BuildKit built in; the one in /usr/local/bin
# may not. docker-compose v1 finds it first on PATH for its builds.
ln -s /usr/bin/docker "$W/bin/docker"
export PATH="$W/bin:$PATH"
export DOCKER_HOST="unix://$W/docker.sock"
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
unset DOCKER_CONTEXT DOCKER_CONFIG COMPOSE_PROJECT_NAME COMPOSE_FILE BAEDAL_TOKEN BAEDAL_SERVER
export NO_COLOR=1

RUN_ID=$(date +%s)$$
NAME=baedal-test-$RUN_ID
VOLUME=baedal-test-$RUN_ID
PROJECT=baedaltest$RUN_ID
DPID=""

d() { timeout "${TMO:-60}" /usr/bin/docker "$@"; }
dc() { timeout "${TMO:-300}" docker-compose --ansi never -p "$PROJECT" -f "$COMPOSE_YAML" "$@"; }
quiet() { "$@" >>"$W/quiet.log" 2>&1; }

cleanup() {
	trap - EXIT INT TERM HUP
	set +u
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		dc down -v --timeout 10 >/dev/null 2>&1
		ids=$(d ps -aq 2>/dev/null)
		[ -n "$ids" ] && d rm -f -v $ids >/dev/null 2>&1
		d volume rm -f "$VOLUME" >/dev/null 2>&1
		d image prune -f >/dev/null 2>&1
		kill -TERM "$DPID" 2>/dev/null
		for _ in $(seq 1 150); do
			kill -0 "$DPID" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$DPID" 2>/dev/null; then
			echo "# dockerd did not stop in 30 s: killing it" >&2
			kill -KILL "$DPID" 2>/dev/null
		fi
		wait "$DPID" 2>/dev/null
	fi
	# Anything the engine started under our directory and left behind.
	for p in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$W/"; then
			kill -KILL "${p#/proc/}" 2>/dev/null
		fi
	done
	grep -F -- "$W/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
interrupted() {
	not_ok "interrupted by a signal"
	echo "$pass passed, $fail failed"
	exit "$1"
}
trap 'interrupted 130' INT
trap 'interrupted 143' TERM HUP

dockerd --data-root "$CACHE/data" --exec-root "$W/exec" --pidfile "$W/dockerd.pid" \
	-H "unix://$W/docker.sock" >"$W/dockerd.log" 2>&1 9>&- &
DPID=$!
up=no
for _ in $(seq 1 60); do
	kill -0 "$DPID" 2>/dev/null || break
	if TMO=5 d info >/dev/null 2>&1; then up=yes; break; fi
	sleep 0.5
done
if [ "$up" != yes ]; then
	not_ok "dockerd answers on its private socket"
	tail -20 "$W/dockerd.log" | sed 's/^/# /'
	finish
fi
ok "dockerd $(d version -f '{{.Server.Version}}' 2>/dev/null) answers on its private socket"
# Left over from an interrupted run: this engine is ours alone.
ids=$(d ps -aq)
[ -n "$ids" ] && d rm -f -v $ids >/dev/null 2>&1
d volume prune -f >/dev/null 2>&1

# ---- base image ---------------------------------------------------------
if d image inspect "$BASE" >/dev/null 2>&1; then
	note "$BASE is present"
else
	note "making $BASE with mmdebstrap from Debian's mirror"
	t=$(date +%s)
	timeout 900 mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
		bookworm - /etc/apt/sources.list.d/debian.sources 2>"$W/mmdebstrap.log" |
		TMO=900 d import --change 'CMD ["bash"]' - "$BASE" >/dev/null
	d image inspect "$BASE" >/dev/null 2>&1 || tail -20 "$W/mmdebstrap.log" | sed 's/^/# /'
	must "$BASE made from Debian's mirror ($(($(date +%s) - t)) s)" quiet d image inspect "$BASE"
fi

# ---- the image ----------------------------------------------------------
t=$(date +%s)
if TMO=1200 d build --progress=plain -f docker/Dockerfile -t "$IMAGE" . >"$W/build.log" 2>&1; then
	ok "docker build -f docker/Dockerfile ($(($(date +%s) - t)) s)"
else
	not_ok "docker build -f docker/Dockerfile"
	tail -30 "$W/build.log" | sed 's/^/# /'
	finish
fi
note "$(d image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE")"

check "the image's user is not root" sh -c \
	'u=$(timeout 30 /usr/bin/docker image inspect -f "{{.Config.User}}" '"$IMAGE"'); [ -n "$u" ] && [ "${u%%:*}" != root ] && [ "${u%%:*}" != 0 ]'
check "the image exposes 7878 and 7879, stops with SIGTERM, has a protocol healthcheck" sh -c \
	'timeout 30 /usr/bin/docker image inspect -f "{{json .Config.ExposedPorts}} {{.Config.StopSignal}} {{json .Config.Healthcheck.Test}}" '"$IMAGE"' |
	 grep -q "7878/tcp.*7879/tcp.* SIGTERM .*baedal-healthcheck"'
check "the runtime stage has no compiler" sh -c \
	'! timeout 30 /usr/bin/docker run --rm --entrypoint sh '"$IMAGE"' -c "command -v gcc || command -v cc || command -v make"'

# ---- docker run -----------------------------------------------------------
wait_healthy() { # wait_healthy CONTAINER SECONDS
	local s
	for _ in $(seq 1 $(($2 * 2))); do
		s=$(d inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$1" 2>/dev/null)
		case $s in
		"running healthy") return 0 ;;
		exited* | dead* | "") return 1 ;;
		esac
		sleep 0.5
	done
	return 1
}

must "docker run -d -p 127.0.0.1::7878 -p 127.0.0.1::7879 (free ports) -v VOLUME:/data" \
	quiet d run -d --name "$NAME" -p 127.0.0.1::7878 -p 127.0.0.1::7879 -v "$VOLUME:/data" "$IMAGE"
published() { # published CONTAINER PORT: the host port, if on 127.0.0.1 only
	local p
	p=$(d port "$1" "$2/tcp" 2>/dev/null)
	printf '%s\n' "$p" | grep -v -q '^127\.0\.0\.1:' && return
	printf '%s\n' "$p" | sed -n 's/^127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' | head -1
}
PORT=$(published "$NAME" 7878)
HPORT=$(published "$NAME" 7879)
check "the port is published on 127.0.0.1 only (127.0.0.1:${PORT:-?})" [ -n "$PORT" ]
check "the HTTP port is published on 127.0.0.1 only (127.0.0.1:${HPORT:-?})" [ -n "$HPORT" ]
if ! wait_healthy "$NAME" 60; then
	not_ok "the container becomes healthy within 60 s"
	d logs "$NAME" 2>&1 | tail -20 | sed 's/^/# /'
	finish
fi
ok "the container becomes healthy"
check "its healthcheck talks the protocol (the last probe got OK pong)" sh -c \
	'timeout 30 /usr/bin/docker inspect -f "{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}|{{end}}" '"$NAME"' | grep -q "0 OK pong"'
check "the server listens on 0.0.0.0:7878" sh -c \
	'timeout 30 /usr/bin/docker logs '"$NAME"' 2>&1 | grep -q "listening on 0.0.0.0:7878"'
check "the server serves HTTP on 0.0.0.0:7879" sh -c \
	'timeout 30 /usr/bin/docker logs '"$NAME"' 2>&1 | grep -q "http on 0.0.0.0:7879"'
# GET / through the published port: the page, whole.
page_ok() { # page_ok HOST_PORT
	local r
	r=$(curl -sS --max-time 30 -o "$W/page.html" -w '%{http_code} %{content_type}' \
		"http://127.0.0.1:$1/" 2>>"$W/quiet.log")
	case $r in
	"200 text/html"*) grep -q '<title>baedal</title>' "$W/page.html" ;;
	*) note "GET http://127.0.0.1:$1/: ${r:-no answer}"; return 1 ;;
	esac
}
check "GET / through the published HTTP port: 200, text/html, the page's title" page_ok "${HPORT:-0}"
uid=$(d exec "$NAME" id -u 2>/dev/null)
check "the server runs as a user who is not root (uid $uid)" sh -c '[ -n "'"$uid"'" ] && [ "'"$uid"'" != 0 ]'
check "/data is owned by the server's user" sh -c \
	'[ "$(timeout 30 /usr/bin/docker exec '"$NAME"' stat -c %u /data)" = "'"$uid"'" ]'

# compare A:30ms B:30ms C:40ms: sync takes the sum (100 ms), async the max (40 ms).
out=$(timeout 30 "$CLIENT" --server "127.0.0.1:$PORT" --json compare A:30ms B:30ms C:40ms 2>"$W/client.err")
rc=$?
check "the host client's compare through the published port exits 0" [ "$rc" = 0 ]
field() { # field MODE KEY: a number from the "done" object of that mode
	printf '%s\n' "$out" | grep '"type":"done"' | grep "\"mode\":\"$1\"" |
		sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p" | head -1
}
sync_us=$(field sync elapsed_us)
async_us=$(field async elapsed_us)
in_range() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -lt "$3" ]; }
check "sync took the sum of the meals: ${sync_us:-?} us in [100000, 400000)" in_range "$sync_us" 100000 400000
check "async took the longest meal: ${async_us:-?} us in [40000, 250000)" in_range "$async_us" 40000 250000
check "async was faster than sync" sh -c '[ -n "'"$sync_us"'" ] && [ -n "'"$async_us"'" ] && [ "'"$async_us"'" -lt "'"$sync_us"'" ]'

q() { d exec "$NAME" sqlite3 /data/baedal.db "$1" 2>/dev/null; }
check "both runs are in run_summary (sqlite3 in the container)" \
	[ "$(q "select count(*) from run_summary where status = 'done' and orders = 3")" = 2 ]

# A run's live events in a browser's way: the host client starts run 3
# through the published protocol port, curl follows its session's event
# stream through the published HTTP port until the run's done.
timeout 60 "$CLIENT" --server "127.0.0.1:$PORT" --json run async A:1500ms B:1s >"$W/sse-run.out" 2>&1 &
ssec=$!
sid=""
for _ in $(seq 1 80); do
	sid=$(sed -n 's/^{"type":"hello","session":"\([0-9a-f]*\)".*/\1/p' "$W/sse-run.out")
	[ -n "$sid" ] && break
	sleep 0.25
done
check "a run's session id from the host client (${sid:-none})" [ -n "$sid" ]
curl -sS -N --max-time 45 "http://127.0.0.1:${HPORT:-0}/events?session=${sid:-none}" >"$W/sse.out" 2>>"$W/quiet.log" &
curlp=$!
for _ in $(seq 1 180); do
	grep -q '^event: done' "$W/sse.out" && break
	kill -0 "$curlp" 2>/dev/null || break
	sleep 0.25
done
kill "$curlp" 2>/dev/null
wait "$curlp" 2>/dev/null
wait "$ssec" 2>/dev/null
check "curl -N /events?session=ID through the published HTTP port: events, then the run's done" sh -c \
	'grep -q "^event: ev$" "$1" &&
	 awk "/^event: ev\$/ { e = 1 } /^event: done\$/ { if (e) d = 1 } END { exit !d }" "$1" &&
	 grep -A1 "^event: done$" "$1" | grep -q "^data: {\"seq\":[0-9]*,\"run\":3,.*\"status\":\"done\""' _ "$W/sse.out"
grep -q '^event: done' "$W/sse.out" || head -c 600 "$W/sse.out" | sed 's/^/# /'

# The stored run as pictures, from the host through the published HTTP port.
check "baedal export 3 --svg through the published HTTP port" sh -c \
	'timeout 60 "$1" export 3 --svg "$2" --http "127.0.0.1:$3" 2>>"$4" &&
	 head -c 200 "$2" | grep -q "^<svg " && tail -c 20 "$2" | grep -q "</svg>"' \
	_ "$CLIENT" "$W/run3.svg" "${HPORT:-0}" "$W/quiet.log"
check "baedal export 3 --trace through the published HTTP port" sh -c \
	'timeout 60 "$1" export 3 --trace "$2" --http "127.0.0.1:$3" 2>>"$4" &&
	 grep -q "\"traceEvents\"" "$2" && grep -q "\"name\":\"A\"" "$2"' \
	_ "$CLIENT" "$W/run3.json" "${HPORT:-0}" "$W/quiet.log"

# A run still eating when the container is stopped: SIGTERM, exit 0,
# the run ends 'interrupted' and is in the database.
timeout 60 "$CLIENT" --server "127.0.0.1:$PORT" --json run async Slow:30s >"$W/slow.out" 2>&1 &
slow=$!
for _ in $(seq 1 40); do
	grep -q '"type":"run"' "$W/slow.out" && break
	sleep 0.25
done
check "a long run is acknowledged" grep -q '"type":"run"' "$W/slow.out"
t=$(date +%s)
d stop -t 20 "$NAME" >/dev/null
stopped_in=$(($(date +%s) - t))
wait "$slow" 2>/dev/null
code=$(d inspect -f '{{.State.ExitCode}}' "$NAME")
check "docker stop (SIGTERM): the server exits 0 (exit code $code, ${stopped_in} s)" \
	sh -c '[ "'"$code"'" = 0 ] && [ "'"$stopped_in"'" -lt 15 ]'
check "its log says it shut down on SIGTERM and flushed the database" sh -c \
	'timeout 30 /usr/bin/docker logs '"$NAME"' 2>&1 | grep -q "SIGTERM: shutting down" &&
	 timeout 30 /usr/bin/docker logs '"$NAME"' 2>&1 | grep -q "the database is flushed"'
last=$(TMO=60 d run --rm --volumes-from "$NAME" --entrypoint sqlite3 "$IMAGE" /data/baedal.db \
	"select run_id || ' ' || mode || ' ' || orders || ' ' || status from runs order by run_id desc limit 1" 2>/dev/null)
check "the last run is in the volume's database: '$last'" [ "$last" = "4 async 1 interrupted" ]
d rm -f -v "$NAME" >/dev/null 2>&1
d volume rm -f "$VOLUME" >/dev/null 2>&1

# ---- docker-compose -------------------------------------------------------
note "compose: $(docker-compose version --short 2>/dev/null), project $PROJECT"
export BAEDAL_PORT BAEDAL_HTTP_PORT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
BAEDAL_PORT=$(free_port)
BAEDAL_HTTP_PORT=$(free_port)
while [ "$BAEDAL_HTTP_PORT" = "$BAEDAL_PORT" ]; do BAEDAL_HTTP_PORT=$(free_port); done
cq() { TMO=60 dc exec -T server sqlite3 /data/baedal.db "$1" 2>/dev/null; }
server_id() { TMO=30 dc ps -q server 2>/dev/null | head -1; }

if dc up -d --build >"$W/compose.log" 2>&1; then
	ok "compose up -d (ports 127.0.0.1:$BAEDAL_PORT and 127.0.0.1:$BAEDAL_HTTP_PORT)"
else
	not_ok "compose up -d"
	tail -20 "$W/compose.log" | sed 's/^/# /'
	finish
fi
sid=$(server_id)
check "compose: the server becomes healthy" wait_healthy "${sid:-none}" 60
check "compose: the restart policy is unless-stopped" sh -c \
	'[ "$(timeout 30 /usr/bin/docker inspect -f "{{.HostConfig.RestartPolicy.Name}}" '"${sid:-none}"')" = unless-stopped ]'
check "compose: published on 127.0.0.1 only" sh -c \
	'p=$(timeout 30 /usr/bin/docker port '"${sid:-none}"' 7878/tcp); [ "$p" = "127.0.0.1:'"$BAEDAL_PORT"'" ]'
check "compose: HTTP published on 127.0.0.1 only (BAEDAL_HTTP_PORT)" sh -c \
	'p=$(timeout 30 /usr/bin/docker port '"${sid:-none}"' 7879/tcp 2>/dev/null); [ "$p" = "127.0.0.1:'"$BAEDAL_HTTP_PORT"'" ]'
check "compose: GET / through the HTTP port: 200, text/html, the page's title" page_ok "$BAEDAL_HTTP_PORT"

cout=$(TMO=120 dc run --rm -T client --plain run async A:20ms B:30ms 2>&1)
rc=$?
check "compose run --rm client (the server by its service name): an async run is done" \
	sh -c '[ "$2" = 0 ] && printf "%s\n" "$1" | grep -q "^async run=1  done  2 orders"' _ "$cout" "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$cout" | tail -5 | sed 's/^/# /'
check "the host client through the compose port: a sync run" \
	quiet timeout 30 "$CLIENT" --server "127.0.0.1:$BAEDAL_PORT" --plain run sync A:20ms B:30ms
check "compose exec server baedal (the client inside the server's container)" \
	quiet dc exec -T server baedal --plain run async C:10ms
before=$(cq "select group_concat(run_id || ':' || mode || ':' || status, ',') from run_summary")
check "compose: the three runs are in run_summary ($before)" [ "$before" = "1:async:done,2:sync:done,3:async:done" ]

check "compose down" quiet dc down --timeout 20
check "compose down: no container left, the volume kept" sh -c \
	'[ -z "$(timeout 30 /usr/bin/docker ps -aq --filter label=com.docker.compose.project='"$PROJECT"')" ] &&
	 timeout 30 /usr/bin/docker volume inspect '"${PROJECT}_baedal-data"' >/dev/null 2>&1'
check "compose up -d again" quiet dc up -d
sid=$(server_id)
check "compose: the new server becomes healthy" wait_healthy "${sid:-none}" 60
after=$(cq "select group_concat(run_id || ':' || mode || ':' || status, ',') from run_summary")
check "the earlier runs are still in run_summary after down and up ($after)" \
	sh -c '[ -n "$1" ] && [ "$2" = "$1" ]' _ "$before" "$after"
check "compose: baedal export 1 --svg after down and up (from the volume's database)" sh -c \
	'timeout 60 "$1" export 1 --svg "$2" --http "127.0.0.1:$3" 2>>"$4" && head -c 200 "$2" | grep -q "^<svg "' \
	_ "$CLIENT" "$W/compose1.svg" "$BAEDAL_HTTP_PORT" "$W/quiet.log"
check "compose run --rm client export (after the entrypoint's --server): the SVG" sh -c \
	'timeout 120 "$@" 2>>"$W/quiet.log" | head -c 200 | grep -q "^<svg "' \
	_ timeout "${TMO:-300}" docker-compose --ansi never -p "$PROJECT" -f "$COMPOSE_YAML" \
	run --rm -T client export 1 --http server:7879 --svg -
check "a new run after up continues the numbering" sh -c \
	'timeout 30 "$1" --server 127.0.0.1:'"$BAEDAL_PORT"' --json run sync D:10ms 2>/dev/null | grep -q "\"type\":\"run\",\"run\":4,"' _ "$CLIENT"

check "compose down -v" quiet dc down -v --timeout 20
check "compose down -v removed the volume" sh -c \
	'! timeout 30 /usr/bin/docker volume inspect '"${PROJECT}_baedal-data"' >/dev/null 2>&1'

note "docker-test took $(($(date +%s) - T0)) s"
finish
