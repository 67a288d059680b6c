#!/bin/sh
# replay draws a stored run again in the live view: after a compare ends,
# baedal replay of its async run shows the same orders, meals and
# statuses, and the same header but for its replay label, and ends with
# exit code 0. The real baedal against the real baedald, inside tmux,
# read back with capture-pane. Ends "N passed, N failed".
#   sh tests/replay_view.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"

# block FILE RUN: the run's header and its order rows, the header without
# its replay label.
block() {
	awk -v run="$2" '
		/^(sync|async) +run [0-9]+ / { on = ($3 == run) }
		on && /^(sync|async) +run |^  [A-Z] / { print }' "$1" |
		sed -E 's/  replay [0-9.]+x//'
}
# The same rows without their bars: names, meals and statuses.
rows_of() { grep -E '^  [A-Z] ' | sed -E 's/\[[^]]*\]//; s/ +/ /g'; }
same() {
	if [ -s "$2" ] && cmp -s "$2" "$3"; then ok "$1"; else
		not_ok "$1"; echo "--- $2:"; cat "$2"; echo "--- $3:"; cat "$3"; fi
}

start_server "$dir/baedal.db" --http off
pane orig "$client compare A:300ms B:300ms C:400ms"
wait_for orig 'EXIT=' >/dev/null
capture orig "$dir/orig"
check_screen "compare: exit code 0" "$dir/orig" '^EXIT=0$'
run=$(sed -nE 's/^async +run ([0-9]+) .*/\1/p' "$dir/orig" | head -n 1)
[ -n "$run" ] && ok "compare: an async run on screen" || not_ok "compare: an async run on screen"

pane again "$client replay $run"
wait_for again 'EXIT=' >/dev/null
capture again "$dir/again"
check_screen "replay: exit code 0" "$dir/again" '^EXIT=0$'
check_screen "replay: its header says replay and done" "$dir/again" \
	"^async +run $run +3 orders +clock 0\.4[0-9]{2} s +replay 1x +done"
for o in "A +300ms" "B +300ms" "C +400ms"; do
	check_screen "replay: ${o%% *} drawn with its meal, bar and status" "$dir/again" \
		"^  $o +\[=+#? *\] +collected"
done
block "$dir/orig" "$run" >"$dir/a"
block "$dir/again" "$run" >"$dir/b"
[ "$(wc -l <"$dir/b")" -eq 4 ] && ok "replay: one run of three rows" || not_ok "one run of three rows"
head -n 1 "$dir/a" >"$dir/ha"
head -n 1 "$dir/b" >"$dir/hb"
same "replay: the original's header" "$dir/ha" "$dir/hb"
rows_of <"$dir/a" >"$dir/ra"
rows_of <"$dir/b" >"$dir/rb"
same "replay: the original's names, meals, statuses" "$dir/ra" "$dir/rb"

# Twice as fast: the same screen, the label says so.
pane fast "$client replay $run --speed 2"
wait_for fast 'EXIT=' >/dev/null
capture fast "$dir/fast"
check_screen "replay --speed 2: exit code 0" "$dir/fast" '^EXIT=0$'
check_screen "replay --speed 2: labelled, clock the run's" "$dir/fast" \
	"^async +run $run +3 orders +clock 0\.4[0-9]{2} s +replay 2x +done"
block "$dir/fast" "$run" | rows_of >"$dir/rf"
same "replay --speed 2: the same rows" "$dir/ra" "$dir/rf"

finish
