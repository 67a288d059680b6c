#!/bin/sh
# baedal top as a person sees it: the real client against the real server,
# inside tmux. While an async cook holds the loop, top says the loop is
# held, then lists the stall with its run and order and a lag max of at
# least the cook; --json --once is one parsable object. Ends "N passed, N failed".
#   sh tests/top_view.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"

start_server "$dir/baedal.db" --max-inline-cook 5s

# 1. Idle: the figures, no stall yet.
pane top "$client top --interval 100ms"
if wait_for top '^stalls +none'; then ok "top draws the server, no stall yet"; else not_ok "top draws the server, no stall yet"; cat "$dir/wait"; fi
check_screen "the loop's utilisation" "$dir/wait" '^loop +busy +[0-9]+\.[0-9] %'
check_screen "lag over the last 10 s" "$dir/wait" '^lag +last 10 s: p50 .* p99 .* max '
check_screen "orders by state" "$dir/wait" 'on a timer [0-9]+ +waiting [0-9]+ +on the loop [01]'
check_screen "the store's lag" "$dir/wait" '^store +lag '
[ "$(tmux -S "$sock" display -p -t top '#{cursor_flag}')" = 0 ] && ok "cursor hidden while drawing" || not_ok "cursor hidden while drawing"

# 2. A 1 s cook on the loop: top's poll waits for it, and says so.
$client run async K:1s:1ms >"$dir/run.out" 2>&1 &
run_pid=$!
if wait_for top 'HELD: no answer for'; then ok "top marks the held loop while it lasts"; else not_ok "top marks the held loop while it lasts"; fi
if wait_for top '^  #1 +[0-9.]+ (ms|s) +cook +run [0-9]+ order 1 '; then ok "the stall listed: a cook, its run and order"; else not_ok "the stall listed: a cook, its run and order"; fi
check_screen "the stall held the loop 1 s or more" "$dir/wait" '^  #1 +[1-9][0-9]*\.[0-9]{2} s +cook'
check_screen "lag max over 10 s at least the cook" "$dir/wait" '^lag +last 10 s: .* max [1-9][0-9]*\.[0-9]{2} s'
check_screen "one stall counted" "$dir/wait" '^loop +busy .* 1 stall \('
wait "$run_pid"
[ $? -eq 0 ] && ok "the cooking run ends" || { not_ok "the cooking run ends"; cat "$dir/run.out"; }
check_screen "its session told of the stall" "$dir/run.out" "^The loop stalled 1 time: [0-9]+ ms \(async.s cook of (K|order 1)\)\.$"

# 3. Ctrl-C: exit 130, the cursor back.
tmux -S "$sock" send-keys -t top C-c
if wait_for top 'EXIT='; then ok "Ctrl-C ends top"; else not_ok "Ctrl-C ends top"; fi
check_screen "exit code 130 after Ctrl-C" "$dir/wait" '^EXIT=130$'
[ "$(tmux -S "$sock" display -p -t top '#{cursor_flag}')" = 1 ] && ok "cursor restored after Ctrl-C" || not_ok "cursor restored after Ctrl-C"

# 4. --json --once: one object, the same stall.
$client top --json --once >"$dir/top.json" 2>"$dir/top.err"
rc=$?
[ $rc -eq 0 ] && ok "--json --once exits 0" || { not_ok "--json --once exits 0 (got $rc)"; cat "$dir/top.err"; }
if python3 - "$dir/top.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["type"] == "stats" and o["stalls"] == 1, o
st = o["recent_stalls"]
assert len(st) == 1 and st[0]["cause"] == "cook" and st[0]["order"] == 1, st
assert st[0]["held_us"] >= 1000000, st
assert o["lag"]["max_us"] >= st[0]["held_us"], o["lag"]
assert 0 <= o["utilisation"] <= 1 and o["orders"]["in_flight"] == 0, o
PY
then ok "--json --once: one object with the stall, lag max >= it"; else not_ok "--json --once: one object with the stall"; cat "$dir/top.json"; fi

# 5. Piped: plain lines, a line for the stall.
$client top --once | cat >"$dir/top.plain"
check_screen "piped: one plain line of figures" "$dir/top.plain" '^busy=[0-9.]+% lag_p50=[0-9]+us .* stalls=1 '
check_screen "piped: the stall's line" "$dir/top.plain" '^stall id=1 held=[0-9]+us cause=cook run=[0-9]+ order=1$'
finish
