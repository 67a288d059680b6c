#!/bin/sh
# Runs every test program of a build (cmocka unit and end-to-end tests) and
# the shell tests, then prints one closing line: "N passed, N failed".
#   sh tests/run.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
export BAEDAL_BUILD="$BUILD"
passed=0
failed=0
failures=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s),"; a
# program that dies before its summary counts as one failure.
count() {
	p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	shell_p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -n 1)
	shell_f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -n 1)
	p=${p:-${shell_p:-0}}
	f=${f:-${shell_f:-0}}
	if [ "$1" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		failures="$failures $2"
	fi
}

for t in "$BUILD"/tests/test_*; do
	case "$t" in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	echo "== $(basename "$t")"
	# shellcheck disable=SC2086 # BAEDAL_WRAP is a command with arguments
	${BAEDAL_WRAP:-} "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	count "$rc" "$(basename "$t")"
done

# A shell test ends with its own "N passed, N failed": shown with its
# name, so that the suite's closing line is the only one of that form.
for t in tests/*.test.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t")
	echo "== $name"
	sh "$t" "$BUILD" >"$log" 2>&1
	rc=$?
	sed "s/^\([0-9]* passed, [0-9]* failed\)\$/$name: \1/" "$log"
	count "$rc" "$name"
done

if [ -n "$failures" ]; then
	echo "failed:$failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
