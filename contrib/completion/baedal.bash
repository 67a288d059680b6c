# bash completion for baedal(1): commands, modes, flags and session ids.
#
# The client keeps no record of the sessions it made (it prints each id on
# stderr, out of completion's reach), and the server lists a session's runs
# only given its id. The one cheap source is a server database on this
# machine: the sessions of its newest 200 runs, from $BAEDAL_DB or else
# ./baedal.db, read with sqlite3 if both are there; otherwise no ids.

_baedal_sessions()
{
	local db=${BAEDAL_DB:-baedal.db}
	[[ -r $db ]] && type -P sqlite3 >/dev/null || return 0
	sqlite3 -readonly -cmd '.timeout 200' "$db" \
		'select distinct session_id from (select session_id from runs order by run_id desc limit 200)' \
		2>/dev/null
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

	local i w cmd="" nargs=0 seen=" "
	for ((i = 1; i < ${#words[@]} - 1; i++)); do
		w=${words[i]}
		seen+="${w%%=*} "
		case $w in
		--server | --token-file | --since | --riders | --deadline | --http | --svg | --trace | --interval | --speed) ((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=$w; else ((nargs++)); fi ;;
		esac
	done

	# A command's own flags, but those on the line already.
	local own="" f
	case $cmd in
	compare) own="--cook --riders --deadline" ;;
	run | gen) own="--riders --deadline" ;;
	demo) own="--cook" ;;
	attach) own="--since" ;;
	top) own="--interval --once" ;;
	replay) own="--speed" ;;
	export) own="--svg --trace --http" ;;
	esac
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
	replay) ((nargs > 0)) && words_now=$own ;;
	demo | top) words_now=$own ;;
	esac
	mapfile -t COMPREPLY < <(compgen -W "$words_now" -- "$cur")
	return 0
}

complete -F _baedal baedal
