#!/bin/sh
# The live view as a person sees it: the real baedal against the real
# baedald, inside tmux, read back with capture-pane. Ends "N passed, N failed".
#   sh tests/live_view.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"

start_server "$dir/baedal.db"

# 1. compare: rows move while the meals are eaten, then the totals.
tmux -S "$sock" new-session -d -s live -x 100 -y 30 \
	"TERM=xterm-256color $client compare A:1s B:1s C:1500ms; echo EXIT=\$?; sleep 60"
# Mid-run: the async clock between 0.2 s and 0.9 s, before any meal ends.
if wait_for live '^async +run [0-9]+ +3 orders +clock 0\.[2-8]'; then
	ok "the run clock ticks"
else
	not_ok "the run clock ticks"
fi
capture live "$dir/mid"
check_screen "orders show as eating while their meal runs" "$dir/mid" ' eating$'
check_screen "a sync and an async run on screen" "$dir/mid" '^sync +run [0-9]+ +3 orders +clock [0-9]+\.[0-9]{3} s'
check_screen "the async run on screen" "$dir/mid" '^async +run'
[ "$(grep -cE ' eating$' "$dir/mid")" -ge 3 ] && ok "three or more orders eating at once" || { not_ok "three eating at once"; cat "$dir/mid"; }
check_screen "a key for the marks" "$dir/mid" '^  \. waiting  ~ cooking  = eating  # collected$'
[ "$(tmux -S "$sock" display -p -t live '#{cursor_flag}')" = 0 ] && ok "cursor hidden while drawing" || not_ok "cursor hidden while drawing"
if wait_for live 'EXIT='; then ok "the client ends"; else not_ok "the client ends"; fi
capture live "$dir/final"
check_screen "exit code 0" "$dir/final" '^EXIT=0$'
check_screen "the totals table" "$dir/final" '^mode +orders +elapsed +ideal +overhead +speed-up$'
# Its speed-up is the sum over its elapsed: 1.00x, or just under once a busy
# machine adds 18 ms or more.
check_screen "sync took the sum: 3.5 s" "$dir/final" '^sync +3 +3\.5[0-9]{2} s +3\.500 s +\+[0-9]+\.[0-9]{3} ms +(1\.00|0\.9[0-9])x$'
check_screen "async took the longest: 1.5 s" "$dir/final" '^async +3 +1\.5[0-9]{2} s +1\.500 s +\+[0-9]+\.[0-9]{3} ms +2\.[0-9]{2}x$'
check_screen "every order collected" "$dir/final" ' collected$'
[ "$(grep -cE '^sync +run' "$dir/final")" = 1 ] && ok "redrawn in place, not scrolled" || { not_ok "redrawn in place"; cat "$dir/final"; }
[ "$(tmux -S "$sock" display -p -t live '#{cursor_flag}')" = 1 ] && ok "cursor restored at the end" || not_ok "cursor restored at the end"

# 2. Ctrl-C: the terminal comes back, the runs go on on the server.
tmux -S "$sock" new-session -d -s intr -x 100 -y 30 \
	"TERM=xterm-256color $client demo; echo EXIT=\$?; sleep 60"
wait_for intr 'eating' >/dev/null
tmux -S "$sock" send-keys -t intr C-c
if wait_for intr 'EXIT='; then ok "Ctrl-C ends the client"; else not_ok "Ctrl-C ends the client"; fi
capture intr "$dir/intr"
check_screen "exit code 130 after Ctrl-C" "$dir/intr" '^EXIT=130$'
check_screen "it says how to reattach" "$dir/intr" 'attach [0-9a-f]{32}'
[ "$(tmux -S "$sock" display -p -t intr '#{cursor_flag}')" = 1 ] && ok "cursor restored after Ctrl-C" || not_ok "cursor restored after Ctrl-C"

# 3. NO_COLOR: no colour codes, the same rows.
tmux -S "$sock" new-session -d -s plain -x 100 -y 30 \
	"TERM=xterm-256color NO_COLOR=1 $client run async A:300ms B:200ms; echo EXIT=\$?; sleep 60"
wait_for plain 'EXIT=' >/dev/null
tmux -S "$sock" capture-pane -p -e -t plain >"$dir/plain"
if grep -q "$(printf '\033')\[[0-9;]*3[0-7]m" "$dir/plain"; then not_ok "NO_COLOR: no colours"; else ok "NO_COLOR: no colours"; fi
check_screen "NO_COLOR: still the live rows" "$dir/plain" '^  A .* collected$'

# 4. compare --cook in an 80-column window: the runs take turns; while
# async cooks B and C on the loop, A's and B's short meals come due, so the
# axis marks the held loop and the totals show what it caused, and the
# loop's lag after them.
tmux -S "$sock" new-session -d -s cook -x 80 -y 30 \
	"TERM=xterm-256color $client compare --cook A:10ms:50ms B:300ms:50ms C:300ms:400ms; echo EXIT=\$?; sleep 60"
if wait_for cook ' cooking$'; then ok "compare --cook: an order shown cooking"; else not_ok "compare --cook: an order shown cooking"; fi
if wait_for cook '\^\^'; then ok "compare --cook: the held loop marked on the axis"; else not_ok "compare --cook: the held loop marked on the axis"; fi
check_screen "compare --cook: the key says what ^ is" "$dir/wait" '# collected  \^ a cook held the loop$'
if wait_for cook 'EXIT='; then ok "compare --cook: the client ends"; else not_ok "compare --cook: the client ends"; fi
capture cook "$dir/cook"
check_screen "compare --cook: exit code 0" "$dir/cook" '^EXIT=0$'
for mode in sync async offload; do
	check_screen "compare --cook: the $mode run on screen" "$dir/cook" "^$mode +run [0-9]+ +3 orders +clock [0-9]+\.[0-9]{3} s +done$"
done
check_screen "compare --cook: cooking, then eating, then collected" "$dir/cook" '^  C +300ms:400ms +\[[. ]*~+=+#'
check_screen "compare --cook: the cook columns" "$dir/cook" '^mode +orders +elapsed +ideal +overhead +vs sync +cook +blocked +caused$'
check_screen "compare --cook: sync is the baseline, 1.00x" "$dir/cook" '^sync +3 +[0-9]+\.[0-9]{3} s +1\.110 s +[-+][0-9]+ ms +1\.00x +610 ms +0 ms +0 ms$'
check_screen "compare --cook: async held the loop and made meals late" "$dir/cook" '^async +3 +[0-9]+\.[0-9]{3} s +1\.010 s +[-+][0-9]+ ms +[0-9.]+x +610 ms +([6-9][0-9]{2}|[0-9]{4,}) ms +[1-9][0-9]* ms$'
check_screen "compare --cook: offload left the loop free" "$dir/cook" '^offload +3 +[0-9]+\.[0-9]{3} s +.* 610 ms +0 ms +0 ms$'
check_screen "compare --cook: what vs sync means" "$dir/cook" '^vs sync: how many times sooner than the sync run each run ended\.$'
check_screen "compare --cook: what async cost" "$dir/cook" "^async's cooks held the loop [0-9]+ ms: meals due then ended up to [1-9][0-9]* ms late\.$"
check_screen "compare --cook: what offload cost" "$dir/cook" '^offload cooked on worker threads: the loop stayed free, no meal was late\.$'
check_screen "compare --cook: the runs took turns" "$dir/cook" "^The runs took turns on the server, so that no run's cooking slowed another's\.$"
# The loop's lag as the server measured it: its max is at least the
# longest cook's 300 ms, which held the loop (a lower bound only).
lag='^Loop lag since the server started [0-9.]+ m?s ago: max [0-9.]+ m?s, p99 [0-9.]+ m?s\.$'
check_screen "compare --cook: the loop's lag under the totals" "$dir/cook" "$lag"
lag_max=$(grep -E -- "$lag" "$dir/cook" | sed 's/.* max \([0-9.]*\) \(m*s\),.*/\1 \2/' |
	awk '{ print ($2 == "s") ? $1 * 1000 : $1 }')
if [ -n "$lag_max" ] && awk -v m="$lag_max" 'BEGIN { exit !(m >= 300) }'; then
	ok "compare --cook: the lag's max is at least the longest cook ($lag_max ms)"
else
	not_ok "compare --cook: the lag's max is at least the longest cook (${lag_max:-none})"
	cat "$dir/cook"
fi
tmux -S "$sock" capture-pane -p -J -t cook >"$dir/joined"
if grep -v "^session " "$dir/joined" | awk 'length($0) > 79 { bad = 1 } END { exit !bad }'; then
	not_ok "compare --cook: every line fits 80 columns"; cat "$dir/joined"
else
	ok "compare --cook: every line fits 80 columns"
fi

# 5. The window shrinks mid-run: the frame is drawn again on a clear screen,
# with no piece of the wider one left.
tmux -S "$sock" new-session -d -s resize -x 120 -y 30 \
	"TERM=xterm-256color $client compare A:1500ms B:1500ms C:2s; echo EXIT=\$?; sleep 60"
wait_for resize ' eating$' >/dev/null
tmux -S "$sock" resize-window -t resize -x 70 -y 30
if wait_for resize 'EXIT='; then ok "resize: the client ends"; else not_ok "resize: the client ends"; fi
capture resize "$dir/resize"
[ "$(grep -cE '^(sync|async) +run' "$dir/resize")" = 2 ] && ok "resize: each run drawn once" || { not_ok "resize: each run drawn once"; cat "$dir/resize"; }
[ "$(grep -cE '^  [ABC] ' "$dir/resize")" = 6 ] && ok "resize: each order drawn once" || { not_ok "resize: each order drawn once"; cat "$dir/resize"; }
if grep -qE '\] +(eating|collected|waiting)[^ ]' "$dir/resize" || grep -qE '^[^ms].*\]  collected.*\]' "$dir/resize"; then
	not_ok "resize: no piece of the old frame"; cat "$dir/resize"
else
	ok "resize: no piece of the old frame"
fi

finish
