#!/bin/sh
# attach draws the real run: a client that attaches mid-run, or after the
# run ended, shows what a client that stayed connected shows. The real
# baedal against the real baedald, inside tmux, read back with
# capture-pane. Ends "N passed, N failed".
#   sh tests/attach_view.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"

# The runs' lines of a screen: each header and its order rows.
runs_of() { grep -E '^(sync|async) +run |^  [A-Z] ' "$1"; }
# The same rows without their bars: names, meals and statuses.
rows_of() { grep -E '^  [A-Z] ' "$1" | sed -E 's/\[[^]]*\]//; s/ +/ /g'; }
# same NAME A B: the two files are equal, else both are shown.
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else
		not_ok "$1"; echo "--- $2:"; cat "$2"; echo "--- $3:"; cat "$3"; fi
}

start_server "$dir/baedal.db"
orders="A:1s B:2s C:3s"

# Two compares of the same orders at once: "stay" is watched to its end,
# "cut" is stopped with Ctrl-C and attached again mid-run.
pane stay "$client compare $orders"
pane cut "$client compare $orders"
wait_for cut '^async +run [0-9]+ +3 orders +clock 0\.[3-9]' >/dev/null
tmux -S "$sock" send-keys -t cut C-c
wait_for cut 'EXIT=' >/dev/null
capture cut "$dir/cut"
check_screen "Ctrl-C: exit code 130" "$dir/cut" '^EXIT=130$'
cut_id=$(sed -n 's/.*attach \([0-9a-f]\{32\}\) --since \([0-9]*\)).*/\1/p' "$dir/cut")
since=$(sed -n 's/.*attach [0-9a-f]\{32\} --since \([0-9]*\)).*/\1/p' "$dir/cut")
[ -n "$cut_id" ] && [ -n "$since" ] && ok "it prints the attach command" || not_ok "it prints the attach command"

# Mid-run, at about 2.5 s: sync has A collected, B eating, C waiting;
# async A and B collected, C eating. Both clients must say the same.
wait_for stay '^sync +run [0-9]+ +3 orders +clock 2\.[2-9]' >/dev/null
pane back "$client attach $cut_id --since $since"
wait_for back '^async +run ' >/dev/null
capture stay "$dir/stay_mid"
capture back "$dir/back_mid"
rows_of "$dir/stay_mid" >"$dir/stay_rows"
rows_of "$dir/back_mid" >"$dir/back_rows"
[ -s "$dir/back_rows" ] && ok "mid-run attach: rows on screen" || not_ok "mid-run attach: rows on screen"
same "mid-run attach: names, meals, statuses as the client that stayed" "$dir/stay_rows" "$dir/back_rows"
check_screen "mid-run attach: sync's A eaten from the start" "$dir/back_mid" '^  A +1s +\[=+#'
check_screen "mid-run attach: sync's C waiting" "$dir/back_mid" '^  C +3s +\[\.+ *\] +waiting$'
check_screen "mid-run attach: async's C eating since t=0" "$dir/back_mid" '^  C +3s +\[=+ *\] +eating$'
if grep -qE '^  #[0-9]|^  [A-Z] +- ' "$dir/back_mid"; then
	not_ok "mid-run attach: no unknown names or meals"; cat "$dir/back_mid"
else ok "mid-run attach: no unknown names or meals"; fi

# Both to their end; then each session attached afresh shows the finished
# runs exactly as the client that watched them (bars, clocks, statuses).
wait_for stay 'EXIT=' >/dev/null
wait_for back 'EXIT=' >/dev/null
capture stay "$dir/stay_end"
capture back "$dir/back_end"
check_screen "attach: exit code 0 once the runs ended" "$dir/back_end" '^EXIT=0$'
stay_id=$(sed -n 's/^session \([0-9a-f]\{32\}\) .*/\1/p' "$dir/stay_end")
pane after "$client attach $stay_id"
pane again "$client attach $cut_id --since $since"
wait_for after 'EXIT=' >/dev/null
wait_for again 'EXIT=' >/dev/null
capture after "$dir/after_end"
capture again "$dir/again_end"
runs_of "$dir/stay_end" >"$dir/a"
runs_of "$dir/after_end" >"$dir/b"
[ "$(wc -l <"$dir/a")" -eq 8 ] && ok "the finished screen has two runs of three rows" || not_ok "two runs of three rows"
same "attach after the end: the rows of the client that stayed" "$dir/a" "$dir/b"
runs_of "$dir/back_end" >"$dir/a"
runs_of "$dir/again_end" >"$dir/b"
same "attach after Ctrl-C, then again after the end: the same rows" "$dir/a" "$dir/b"

finish
