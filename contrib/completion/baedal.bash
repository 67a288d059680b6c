# bash completion for baedal(1): commands, modes, flags, session ids and
# run ids.
#
# The client keeps no record of the sessions it made (it prints each id on
# stderr, out of completion's reach), and the server lists a session's runs
# only given its id. The one cheap source is a server database on this
# machine: the sessions of its newest 200 runs, from $BAEDAL_DB or else
# ./baedal.db, read with sqlite3 if both are there; otherwise no ids.
#
# Run ids come from the server itself: its HTTP side lists its 64 newest
# runs (GET /api/runs), where the TCP side lists only a given session's.

_baedal_sessions()
{
	local db=${BAEDAL_DB:-baedal.db}
	[[ -r $db ]] && type -P sqlite3 >/dev/null || return 0
	sqlite3 -readonly -cmd '.timeout 200' "$db" \
		'select distinct session_id from (select session_id from runs order by run_id desc limit 200)' \
		2>/dev/null
}

# _baedal_runs HTTP TOKEN: the ids of the newest runs of the server whose
# HTTP side is at HTTP, newest first. Nothing, and no message, when curl is
# missing or the server does not answer within 2 s: a Tab must not hang.
# The token goes on curl's stdin, out of sight of ps.
_baedal_runs()
{
	[[ $1 =~ ^[][A-Za-z0-9.:_-]+$ ]] && type -P curl >/dev/null || return 0
	local header=""
	[[ -n $2 ]] && header="Authorization: Bearer $2"
	printf '%s\n' "$header" |
		timeout 2 curl -sf -H @- "http://$1/api/runs" 2>/dev/null |
		grep -o '"run":[0-9]*' | cut -d: -f2
}

# _baedal_run_ids CMD SERVER HTTP TOKEN_FILE: the run ids to offer after
# CMD, from the HTTP side that command's server has, given the line's
# --server, --http and --token-file ("" when absent). export asks the HTTP
# side itself (its --http, else $BAEDAL_HTTP, else the default); replay
# asks the TCP side, so its ids come from $BAEDAL_HTTP or the default, and
# from neither when --server or $BAEDAL_SERVER names a server whose HTTP
# side is not known: better no ids than another server's.
_baedal_run_ids()
{
	local http=$3 token=${BAEDAL_TOKEN:-}
	if [[ -z $http ]]; then
		http=${BAEDAL_HTTP:-}
		[[ -z $http && $1 == replay && -n $2${BAEDAL_SERVER:-} ]] && return 0
		http=${http:-127.0.0.1:7879}
	fi
	if [[ -n $4 ]]; then
		token=""
		[[ -r $4 ]] && IFS= read -r token <"$4"
	fi
	_baedal_runs "$http" "$token"
}

_baedal()
{
	# Words are split on blanks only: an order (A:3s) or an address is one
	# word here, where COMP_WORDS would split it at the colon.
	local line=${COMP_LINE:0:COMP_POINT}
	local -a words
	read -ra words <<<"$line"
	[[ $line == *[[:blank:]] ]] && words+=("")
	local cur=${words[-1]} prev=""
	((${#words[@]} > 1)) && prev=${words[-2]}
	local global="--server --json --plain --no-color --token-file --help --version"
	local cmds="run gen compare demo attach runs top replay export"
	local modes="sync async offload"
	COMPREPLY=()

	case $prev in
	--token-file | --svg | --trace)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	--server | --since | --riders | --deadline | --http | --interval | --speed)
		return 0
		;;
	esac

	local i w cmd="" first="" nargs=0 seen=" " server="" http="" token_file=""
	for ((i = 1; i < ${#words[@]} - 1; i++)); do
		w=${words[i]}
		seen+="${w%%=*} "
		case $w in
		--server) server=${words[i + 1]} ;;
		--http) http=${words[i + 1]} ;;
		--token-file) token_file=${words[i + 1]} ;;
		--server=*) server=${w#*=} ;;
		--http=*) http=${w#*=} ;;
		--token-file=*) token_file=${w#*=} ;;
		esac
		case $w in
		--server | --token-file | --since | --riders | --deadline | --http | --svg | --trace | --interval | --speed) ((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=$w; else ((nargs++ == 0)) && first=$w; fi ;;
		esac
	done

	# A command's own flags, but those on the line already and those it
	# would refuse with them: sync has no riders, compare takes --cook or
	# --riders, export writes one file. export speaks HTTP: of the global
	# flags it takes only --token-file (and --help).
	local own="" f
	case $cmd in
	compare) own="--cook --riders --deadline" ;;
	run | gen) own="--riders --deadline" ;;
	demo) own="--cook" ;;
	attach) own="--since" ;;
	top) own="--interval --once" ;;
	replay) own="--speed" ;;
	export) own="--svg --trace --http" global="--token-file --help" ;;
	esac
	[[ $cmd == run || $cmd == gen ]] && [[ $first == sync ]] && own=${own/--riders/}
	[[ $cmd == compare && $seen == *" --cook "* ]] && own=${own/--riders/}
	[[ $cmd == compare && $seen == *" --riders "* ]] && own=${own/--cook/}
	[[ $cmd == export && ($seen == *" --svg "* || $seen == *" --trace "*) ]] &&
		own=${own/--svg --trace/}
	for f in $own; do
		[[ $seen == *" $f "* ]] && own=${own/$f/}
	done
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$global $own" -- "$cur")
		return 0
	fi

	local words_now=""
	case $cmd in
	"") words_now=$cmds ;;
	run | gen) ((nargs == 0)) && words_now=$modes ;;
	attach) if ((nargs == 0)); then words_now=$(_baedal_sessions); else words_now=$own; fi ;;
	runs) ((nargs == 0)) && words_now=$(_baedal_sessions) ;;
	replay | export)
		if ((nargs == 0)); then
			words_now=$(_baedal_run_ids "$cmd" "$server" "$http" "$token_file")
		elif [[ $cmd == replay ]]; then
			words_now=$own
		fi
		;;
	demo | top) words_now=$own ;;
	esac
	mapfile -t COMPREPLY < <(compgen -W "$words_now" -- "$cur")
	return 0
}

complete -F _baedal baedal
