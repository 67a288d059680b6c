#!/bin/sh
# The man pages against the binaries they describe: every flag `--help`
# prints is an item of the page's OPTIONS (and every item is in `--help`),
# no stale flag is mentioned anywhere, the client's commands and both
# programs' environment variables match, baedald's defaults are the ones
# --help says, and `mandoc -T lint` reports nothing. Ends "N passed, N failed".
#   sh tests/man.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
MAN=docs/man
. "$(dirname "$0")/lib.sh"

# help_flags FILE: the flags a --help text names (--long and -x), sorted.
help_flags() {
	{
		grep -oE -- '--[a-z][a-z0-9-]*' "$1"
		grep -oE -- '(^|[][ ,])-[A-Za-z]([ ,]|$)' "$1" | tr -d ' ,[]'
	} | sort -u
}

# page_flags PAGE [SECTION]: the flags of the page's `Fl` macros, sorted:
# with SECTION, only those on the `.It` lines of that section (the flags it
# describes); without, every one the page mentions.
page_flags() {
	awk -v want="${2:-}" '
		/^\.Sh / { sh = substr($0, 5) }
		!/^\./ { next }
		want != "" && (sh != want || $1 != ".It") { next }
		{
			for (i = 1; i < NF; i++)
				if ($i == "Fl") {
					f = $(i + 1)
					gsub(/\\/, "", f)
					if (f ~ /^-?[A-Za-z]/)
						print "-" f
				}
		}' "$1" | sort -u
}

# page_items PAGE SECTION MACRO: the first argument of each `.It MACRO x`
# of SECTION (commands: Cm, variables: Ev), sorted.
page_items() {
	awk -v want="$2" -v m="$3" '
		/^\.Sh / { sh = substr($0, 5) }
		sh == want && $1 == ".It" && $2 == m { print $3 }' "$1" | sort -u
}

# same NAME EXPECTED ACTUAL WHAT: both sorted lists hold the same lines;
# else says which lines each lacks.
same() {
	name=$1
	missing=$(comm -23 "$2" "$3" | tr '\n' ' ')
	extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
	if [ -z "$missing$extra" ]; then
		ok "$name"
	else
		not_ok "$name: in --help, not in the page: ${missing:-none}; in the page, not in --help: ${extra:-none}"
	fi
}

# check_defaults HELP PAGE: each "(default X)" of a flag in --help is the
# "Default X" of that flag's item in the page.
check_defaults() {
	awk '
		/^ +-/ { if (b != "") print b; b = $0; next }
		/^ +[^ -]/ && b != "" { b = b " " $0; next }
		{ if (b != "") print b; b = "" }
		END { if (b != "") print b }' "$1" |
	while IFS= read -r block; do
		flag=$(printf '%s\n' "$block" | grep -oE -- '--[a-z][a-z0-9-]*' | head -n 1)
		value=$(printf '%s\n' "$block" | tr -s ' ' |
			sed -n 's/.*(default:\{0,1\} \([^;)]*\)[;)].*/\1/p; s/.* \([a-z0-9.]*\) (default).*/\1/p' |
			head -n 1)
		[ -n "$flag" ] && [ -n "$value" ] || continue
		item=$(awk -v f="Fl \\\\${flag#-}" '
			$1 == ".It" || $1 == ".El" { on = index($0, f) > 0; next }
			on { printf "%s ", $0 }' "$2" | sed 's/\\&//g')
		case "$item" in
		*"Default $value"* | *"Default: $value"*) echo "ok: $flag defaults to $value" ;;
		*) echo "FAIL: $flag: --help says default $value, the page does not" ;;
		esac
	done
}

if ! command -v mandoc >/dev/null; then
	not_ok "mandoc is installed (make deps installs it: apt-get install mandoc)"
	finish
fi

for page in "$MAN/baedal.1" "$MAN/baedald.8"; do
	prog=$(basename "$page" | sed 's/\.[0-9]$//')
	help="$dir/$prog.help"
	if ! "$BUILD/$prog" --help >"$help" 2>&1; then
		not_ok "$prog --help exits 0"
		continue
	fi
	help_flags "$help" >"$dir/h"
	page_flags "$page" OPTIONS >"$dir/p"
	same "$prog: OPTIONS describes exactly the flags of --help" "$dir/h" "$dir/p"
	page_flags "$page" >"$dir/all"
	stale=$(comm -13 "$dir/h" "$dir/all" | tr '\n' ' ')
	if [ -z "$stale" ]; then
		ok "$prog: every flag the page mentions is in --help"
	else
		not_ok "$prog: the page mentions flags --help does not print: $stale"
	fi
	grep -oE '[A-Z][A-Z0-9]*_[A-Z0-9_]+' "$help" | sort -u >"$dir/h"
	page_items "$page" ENVIRONMENT Ev | grep '_' >"$dir/p"
	same "$prog: ENVIRONMENT lists exactly the variables of --help" "$dir/h" "$dir/p"

	# Lint: every message but the one about pages this machine lacks.
	mandoc -T lint -W style "$page" >"$dir/lint" 2>&1
	grep -v 'referenced manual not found\|mandoc\.db' "$dir/lint" >"$dir/lint.own"
	if [ ! -s "$dir/lint.own" ]; then
		ok "$prog: mandoc -T lint reports nothing"
	else
		not_ok "$prog: mandoc -T lint: $(cat "$dir/lint.own")"
	fi
	# The references to baedal's own pages are to pages it ships.
	for ref in $(awk '$1 == ".Xr" && $2 ~ /^baedal/ { print $2 "." $3 }' "$page" | sort -u); do
		if [ -f "$MAN/$ref" ]; then ok "$prog: Xr $ref is shipped"; else not_ok "$prog: Xr $ref is not in $MAN"; fi
	done
	# Rendered, with the overstrikes of bold and underline taken out.
	if mandoc -T ascii "$page" >"$dir/out" 2>&1 &&
		sed "s/.$(printf '\b')//g" "$dir/out" | grep -q "^NAME"; then
		ok "$prog: renders"
	else
		not_ok "$prog: renders"
	fi
done

# The client's commands: the first word of each line of the help's
# "commands:" list, and the `.It Cm` items of COMMANDS.
sed -n '/^commands:/,/^$/p' "$dir/baedal.help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' |
	sort -u >"$dir/h"
page_items "$MAN/baedal.1" COMMANDS Cm >"$dir/p"
same "baedal: COMMANDS describes exactly the commands of --help" "$dir/h" "$dir/p"

# Each optional part ("[...]") of a command's line in --help is one in the
# page's item for that command, as rendered: brackets nest the same way.
mandoc -T ascii "$MAN/baedal.1" 2>/dev/null | sed "s/.$(printf '\b')//g" >"$dir/rendered"
sed -n '/^commands:/,/^$/p' "$dir/baedal.help" | sed -n 's/^  \([a-z][a-z-]*\) \(.*\)/\1 \2/p' |
while read -r cmd rest; do
	item=$(grep -E "^ {5}$cmd( |$)" "$dir/rendered" | head -n 1 | tr 'A-Z' 'a-z')
	printf '%s\n' "$rest" | sed 's/  .*//' | grep -oE '\[[^]]*\]' | tr 'A-Z' 'a-z' |
	while IFS= read -r part; do
		case "$item" in
		*"$part"*) echo "ok: baedal: the page's $cmd has $part" ;;
		*) echo "FAIL: baedal: --help's $cmd has $part, the page's has: $item" ;;
		esac
	done
done >"$dir/synopsis"
cat "$dir/synopsis"
passed=$((passed + $(grep -c '^ok' "$dir/synopsis")))
failed=$((failed + $(grep -c '^FAIL' "$dir/synopsis")))

# examples PAGE PROG: the PROG command lines of the page's literal displays.
examples() {
	awk -v p="$2" '/^\.Bd -literal/ { on = 1; next } /^\.Ed/ { on = 0 } on && $1 == p' "$1" |
		sed 's/\\e$//'
}
# The examples are commands the programs take: the client's, sent to a
# port nothing listens on, fail to connect (1), not on usage (2); the
# server's, with --help after them, parse every flag and exit 0.
examples "$MAN/baedal.1" baedal >"$dir/ex"
while read -r _ args; do
	# shellcheck disable=SC2086 # the example's words
	"$BUILD/baedal" --server 127.0.0.1:1 $args >/dev/null 2>"$dir/ex.err" </dev/null
	rc=$?
	if [ "$rc" -ne 2 ]; then ok "baedal example parses: $args"; else
		not_ok "baedal example parses: $args: $(cat "$dir/ex.err")"; fi
done <"$dir/ex"
examples "$MAN/baedald.8" baedald >"$dir/ex"
while read -r _ args; do
	# shellcheck disable=SC2086 # the example's words
	if "$BUILD/baedald" $args --help >/dev/null 2>"$dir/ex.err"; then
		ok "baedald example parses: ${args:-(no flags)}"
	else
		not_ok "baedald example parses: $args: $(cat "$dir/ex.err")"
	fi
done <"$dir/ex"

if [ -s "$dir/baedald.help" ]; then
	check_defaults "$dir/baedald.help" "$MAN/baedald.8" >"$dir/defaults"
	cat "$dir/defaults"
	passed=$((passed + $(grep -c '^ok' "$dir/defaults")))
	failed=$((failed + $(grep -c '^FAIL' "$dir/defaults")))
fi
finish
