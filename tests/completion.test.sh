#!/bin/sh
# contrib/completion/baedal.bash driven as bash drives it: COMP_LINE,
# COMP_POINT, COMP_WORDS and COMP_CWORD set for a command line, _baedal
# called, COMPREPLY read. Its commands and flags are the ones `baedal
# --help` prints, `attach` and `runs` offer the session ids of a real
# database, and `export` and `replay` the run ids a real server lists.
# Ends "N passed, N failed".
#   sh tests/completion.test.sh [BUILD_DIR]
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
# The run ids' server is the one the test starts, not the caller's.
unset BAEDAL_HTTP BAEDAL_SERVER BAEDAL_TOKEN
COMPLETION=contrib/completion/baedal.bash

# shellcheck source=../contrib/completion/baedal.bash
. "$COMPLETION"

# comp LINE: the completions of LINE with the cursor at its end, sorted,
# on one line.
comp() {
	COMP_LINE=$1
	COMP_POINT=${#1}
	# bash splits COMP_WORDS at COMP_WORDBREAKS, colons included.
	local IFS=$' \t\n'
	read -ra COMP_WORDS <<<"${1//:/ : }"
	[[ $1 == *' ' ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_baedal baedal "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}
# expect NAME LINE WANT: LINE completes to exactly WANT (sorted, spaced).
expect() {
	local got
	got=$(comp "$2")
	if [[ $got == "$3" ]]; then ok "$1"; else not_ok "$1: '$2' gave '$got', want '$3'"; fi
}

if complete -p baedal 2>/dev/null | grep -q -- '-F _baedal'; then
	ok "the file registers _baedal for baedal"
else
	not_ok "the file registers _baedal for baedal"
fi

# Against --help: the commands of its "commands:" list, and its flags
# (every flag some context offers).
"$BUILD/baedal" --help >"$dir/help"
help_cmds=$(sed -n '/^commands:/,/^$/p' "$dir/help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' |
	sort -u | tr '\n' ' ' | sed 's/ $//')
help_flags=$(grep -oE -- '--[a-z][a-z0-9-]*' "$dir/help" | sort -u | tr '\n' ' ' | sed 's/ $//')
expect "commands: those of --help" "baedal " "$help_cmds"
offered=$(for ctx in "" "compare " "demo " "attach x " "runs x " "run async " "gen async " "export x " "top " "replay 1 "; do
	comp "baedal $ctx--" | tr ' ' '\n'
	echo
done | sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//')
if [[ $offered == "$help_flags" ]]; then
	ok "flags: those of --help"
else
	not_ok "flags: offered '$offered', --help has '$help_flags'"
fi

# Every flag offered after a command is one that command takes: the real
# client, given it, makes no usage error (exit 2); with no server at
# 127.0.0.1:1 it fails to connect instead (exit 1), or prints help (0).
echo secret >"$dir/flag_token"
# flag_value FLAG: a value the flag takes, if it takes one.
flag_value() {
	case $1 in
	--server | --http) echo 127.0.0.1:1 ;;
	--token-file) echo "$dir/flag_token" ;;
	--riders) [[ $2 == compare* ]] && echo 1,2 || echo 2 ;;
	--deadline | --interval) echo 1s ;;
	--since) echo 1 ;;
	--speed) echo 2 ;;
	--svg | --trace) echo "$dir/flag.out" ;;
	esac
}
session=0123456789abcdef0123456789abcdef
refused=""
for ctx in "run async A:1ms" "run sync A:1ms" "gen offload 2 1ms" "gen sync 2 1ms" \
	"compare A:1ms:10ms" "compare --cook A:1ms:10ms" "compare --riders 1,2 A:1ms" "demo" \
	"demo --cook" "attach $session" "runs $session" "top" "top --once" "replay 1" \
	"export 1" "export 1 --svg $dir/flag.out"; do
	for flag in $(comp "baedal $ctx --"); do
		# export needs a file; the others' server is none.
		extra=()
		[[ $ctx == "export 1" && $flag != --svg && $flag != --trace ]] &&
			extra=(--svg "$dir/flag.out")
		[[ $ctx == export* ]] && extra+=(--http 127.0.0.1:1) || extra+=(--server 127.0.0.1:1)
		# shellcheck disable=SC2086 # ctx is words
		timeout 20 "$BUILD/baedal" $ctx $flag $(flag_value "$flag" "$ctx") "${extra[@]}" \
			>/dev/null 2>"$dir/flag_err"
		[[ $? -eq 2 ]] && refused="$refused [$ctx $flag: $(head -n 1 "$dir/flag_err")]"
	done
done
if [[ -z $refused ]]; then
	ok "every flag offered after a command is one it takes"
else
	not_ok "flags offered, then refused:$refused"
fi
expect "compare --cook: no --riders" "baedal compare --cook --" \
	"--deadline --help --json --no-color --plain --server --token-file --version"
expect "compare --riders: no --cook" "baedal compare --riders 2 --" \
	"--deadline --help --json --no-color --plain --server --token-file --version"
expect "run sync: no --riders" "baedal run sync --" \
	"--deadline --help --json --no-color --plain --server --token-file --version"
expect "export: its own flags, --token-file, --help" "baedal export 1 --" \
	"--help --http --svg --token-file --trace"
expect "export: one file" "baedal export 1 --svg x --" "--help --http --token-file"

expect "a command's prefix" "baedal r" "replay run runs"
expect "modes after run" "baedal run " "async offload sync"
expect "a mode's prefix" "baedal gen o" "offload"
expect "nothing after the mode" "baedal run async " ""
expect "global flags do not count as the command" "baedal --json --no-color run a" "async"
expect "an address is one word, its colon too" "baedal --server 127.0.0.1:7878 run " "async offload sync"
expect "orders are one word each" "baedal run sync A:1s B:2s " ""
expect "--cook for compare" "baedal compare --c" "--cook"
expect "--cook as demo's only argument" "baedal demo " "--cook"
expect "no --cook for run" "baedal run --c" ""
expect "run's own flags" "baedal run async --" "--deadline --help --json --no-color --plain --riders --server --token-file --version"
expect "no completion of --riders' value" "baedal compare --riders " ""
expect "--riders' value is not the command" "baedal --riders 2 r" "replay run runs"
expect "no second --cook" "baedal demo --cook " ""
expect "no second --since" "baedal attach abc --since 3 " ""
expect "top's flags" "baedal top " "--interval --once"
expect "no completion of --interval's value" "baedal top --interval " ""
expect "replay's flag after its run" "baedal replay 3 " "--speed"
expect "no completion of --speed's value" "baedal replay 3 --speed " ""
expect "no completion of --server's value" "baedal --server " ""
expect "no completion of --since's value" "baedal attach abc --since " ""

touch "$dir/token.one" "$dir/token.two"
expect "--token-file completes file names" "baedal --token-file $dir/token." \
	"$dir/token.one $dir/token.two"

# Session ids: none without a database; with one, those of its runs,
# newest first, and --since once the id is given.
BAEDAL_DB="$dir/none.db" expect "no database: no ids" "baedal attach " ""
start_server "$dir/baedal.db" --http 127.0.0.1:0
http="127.0.0.1:$(sed -n 's/^http on .*:\([0-9][0-9]*\)$/\1/p' "$dir/server.log")"
ids=""
for _ in 1 2; do
	$client --plain run async A:1ms >/dev/null 2>"$dir/err"
	ids="$ids $(sed -n 's/^session \([0-9a-f]\{32\}\).*/\1/p' "$dir/err")"
done
set -- $ids
if [[ $# -eq 2 && $1 != "$2" ]]; then ok "two runs, two sessions"; else not_ok "two runs, two sessions: '$ids'"; cat "$dir/err"; fi
want=$(printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//')
export BAEDAL_DB="$dir/baedal.db"
expect "attach offers the database's session ids" "baedal attach " "$want"
expect "runs offers them too" "baedal --plain runs " "$want"
expect "an id's prefix" "baedal attach ${2:0:12}" "$2"
expect "--since after the id" "baedal attach $1 " "--since"
newest=$(_baedal_sessions | head -n 1)
if [[ $newest == "$2" ]]; then ok "the newest session first"; else not_ok "the newest session first: '$newest', want '$2'"; fi

# Run ids: those the server's HTTP side lists, wherever the line or the
# environment says it is; none, silently, where no server answers.
runs=$(sqlite3 "$dir/baedal.db" 'select run_id from runs order by run_id' | tr '\n' ' ' | sed 's/ $//')
set -- $runs
if [[ $# -eq 2 ]]; then ok "two runs stored"; else not_ok "two runs stored: '$runs'"; fi
BAEDAL_HTTP=$http expect "export offers the server's run ids" "baedal export " "$runs"
BAEDAL_HTTP=$http expect "replay offers them too" "baedal --plain replay " "$runs"
BAEDAL_HTTP=$http expect "a run id's prefix" "baedal export $2" "$2"
BAEDAL_HTTP=$http expect "export's flags after the run" "baedal export $2 --s" "--svg"
expect "export's --http on the line" "baedal export --http $http " "$runs"
expect "export's --http= on the line" "baedal export --http=$http " "$runs"
BAEDAL_HTTP=127.0.0.1:1 expect "--http on the line before \$BAEDAL_HTTP" "baedal export --http $http " "$runs"
BAEDAL_HTTP=$http expect "replay with \$BAEDAL_HTTP and --server" "baedal --server 127.0.0.1:$port replay " "$runs"
expect "replay's --server with no known HTTP side: no ids" "baedal --server 127.0.0.1:$port replay " ""
BAEDAL_SERVER=127.0.0.1:$port expect "replay's \$BAEDAL_SERVER with no known HTTP side: no ids" "baedal replay " ""
stop_server
(cd "$dir" && unset BAEDAL_DB && _baedal_sessions) >"$dir/cwd_ids"
if [[ $(wc -l <"$dir/cwd_ids") -eq 2 ]]; then ok "./baedal.db without BAEDAL_DB"; else not_ok "./baedal.db without BAEDAL_DB"; fi
got=$(BAEDAL_HTTP=$http comp "baedal export " 2>"$dir/comp_err")
if [[ -z $got && ! -s $dir/comp_err ]]; then
	ok "no server: no run ids, no message"
else
	not_ok "no server: no run ids, no message: '$got'"
	cat "$dir/comp_err"
fi

# A server with a token answers only with it: from the line's --token-file
# or $BAEDAL_TOKEN, as the client takes it.
echo "completion-secret" >"$dir/token"
start_server "$dir/baedal.db" --http 127.0.0.1:0 --token-file "$dir/token"
http="127.0.0.1:$(sed -n 's/^http on .*:\([0-9][0-9]*\)$/\1/p' "$dir/server.log")"
export BAEDAL_HTTP=$http
expect "a token's server without it: no ids" "baedal export " ""
expect "the token from --token-file" "baedal --token-file $dir/token export " "$runs"
BAEDAL_TOKEN=completion-secret expect "the token from \$BAEDAL_TOKEN" "baedal export " "$runs"
stop_server
finish
