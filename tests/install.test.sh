#!/bin/sh
# make install into a temporary DESTDIR lays out exactly the expected
# files (binaries, man pages, systemd unit, bash completion, the unit's
# example environment file), and make uninstall removes exactly those.
# The installed unit has what a well-kept daemon's unit needs, and
# `systemd-analyze verify` accepts it where systemd-analyze is installed.
# Ends "N passed, N failed".
#   sh tests/install.test.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"

# The suite's binaries as built: install must not build again (-o all).
mk() { make -s --no-print-directory -o all BUILD="$BUILD" "$@"; }
# files ROOT: the files and links under ROOT, relative, sorted.
files() { (cd "$1" && find . -type f -o -type l) | sed 's|^\./||' | sort; }
# same_list NAME WANT GOT: the two lists are equal, else both differences.
same_list() {
	if cmp -s "$2" "$3"; then ok "$1"; else
		not_ok "$1"; echo "missing: $(comm -23 "$2" "$3" | tr '\n' ' ')"
		echo "extra: $(comm -13 "$2" "$3" | tr '\n' ' ')"; fi
}

root="$dir/root"
mkdir -p "$root/usr/bin" "$root/usr/share/doc/other"
echo keep >"$root/usr/bin/other"
echo keep >"$root/usr/share/doc/other/README"
files "$root" >"$dir/before"
cat >"$dir/ours" <<'EOF'
usr/bin/baedal
usr/bin/baedald
usr/lib/systemd/system/baedald.service
usr/share/bash-completion/completions/baedal
usr/share/doc/baedal/baedald.env
usr/share/man/man1/baedal.1
usr/share/man/man8/baedald.8
EOF
sort -o "$dir/want" "$dir/before" "$dir/ours"

if mk install PREFIX=/usr DESTDIR="$root" >"$dir/make.log" 2>&1; then
	ok "make install PREFIX=/usr DESTDIR=... ends with 0"
else
	not_ok "make install PREFIX=/usr DESTDIR=... ends with 0"
	cat "$dir/make.log"
	finish
fi
files "$root" >"$dir/after"
same_list "install adds exactly the expected files" "$dir/want" "$dir/after"

for b in baedal baedald; do
	if cmp -s "$BUILD/$b" "$root/usr/bin/$b" && [ -x "$root/usr/bin/$b" ]; then
		ok "$b installed, executable"
	else
		not_ok "$b installed, executable"
	fi
done
cmp -s docs/man/baedal.1 "$root/usr/share/man/man1/baedal.1" && ok "baedal.1 installed" ||
	not_ok "baedal.1 installed"
cmp -s contrib/completion/baedal.bash "$root/usr/share/bash-completion/completions/baedal" &&
	ok "completion installed under the command's name" || not_ok "completion installed under the command's name"

# man renders both installed pages, as man(1) finds them and with -l.
if command -v man >/dev/null; then
	for p in man1/baedal.1 man8/baedald.8; do
		if man -l "$root/usr/share/man/$p" 2>/dev/null | grep -q 'SEE ALSO'; then
			ok "man -l renders $p"
		else
			not_ok "man -l renders $p"
		fi
	done
	if MANPATH="$root/usr/share/man" man 8 baedald 2>/dev/null | grep -q 'SIGTERM'; then
		ok "man 8 baedald finds the installed page"
	else
		not_ok "man 8 baedald finds the installed page"
	fi
else
	echo "skip: man is not installed (apt-get install man-db): man -l not tried"
fi

# The unit: ExecStart in PREFIX (not DESTDIR), the settings the service needs.
unit="$root/usr/lib/systemd/system/baedald.service"
grep -q '^ExecStart=/usr/bin/baedald ' "$unit" && ok "ExecStart is PREFIX/bin/baedald" ||
	not_ok "ExecStart is PREFIX/bin/baedald: $(grep ExecStart "$unit")"
for setting in DynamicUser=yes StateDirectory=baedal Restart=on-failure KillSignal=SIGTERM \
	'EnvironmentFile=-/etc/default/baedald' ProtectSystem=strict ProtectHome=yes \
	NoNewPrivileges=yes PrivateTmp=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
	grep -qx -- "$setting" "$unit" && ok "unit: $setting" || not_ok "unit: $setting"
done
# The stop timeout outlasts the server's shutdown grace (STOP_GRACE_S s).
grace=$(sed -n 's/^#define STOP_GRACE_S \([0-9]*\)$/\1/p' server/server.c)
timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$unit")
if [ -n "$grace" ] && [ -n "$timeout" ] && [ "$timeout" -gt "$((grace + 5))" ]; then
	ok "TimeoutStopSec=${timeout}s outlasts the ${grace} s shutdown grace"
else
	not_ok "TimeoutStopSec (${timeout:-none}) outlasts the shutdown grace (${grace:-unknown} s) by 5 s"
fi
# The example environment file names only variables baedald reads (those
# of its --help) and BAEDALD_OPTS, which the unit passes; the flags of its
# BAEDALD_OPTS line are ones baedald takes.
env_file="$root/usr/share/doc/baedal/baedald.env"
"$BUILD/baedald" --help | grep -oE '[A-Z][A-Z0-9]*_[A-Z0-9_]+' | sort -u >"$dir/vars"
echo BAEDALD_OPTS >>"$dir/vars"
unknown=$(sed -n 's/^#\{0,1\}\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$env_file" | grep -vxF -f "$dir/vars" | tr '\n' ' ')
[ -z "$unknown" ] && ok "the environment file names known variables" ||
	not_ok "the environment file names unknown variables: $unknown"
# The unit's comment names every variable the environment file may set,
# and its comments read right once installed: the path goes in ExecStart
# only.
missing=""
for var in $(sed -n 's/^#\{0,1\}\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$env_file"); do
	grep -q "^#.*\b$var\b" "$unit" || missing="$missing $var"
done
[ -z "$missing" ] && ok "the unit's comment names the environment file's variables" ||
	not_ok "the unit's comment leaves out:$missing"
stray=$(grep -n '/usr/bin' "$unit" | grep -v ':ExecStart=')
[ -z "$stray" ] && ok "the install path is filled in ExecStart only" ||
	not_ok "the install path outside ExecStart: $stray"
grep -q 'ExecStart=.* \$BAEDALD_OPTS$' "$unit" && ok "the unit passes BAEDALD_OPTS" ||
	not_ok "the unit passes BAEDALD_OPTS"
opts=$(sed -n 's/^#\{0,1\}BAEDALD_OPTS=//p' "$env_file")
# shellcheck disable=SC2086 # the options are words, as systemd splits them
if [ -n "$opts" ] && "$BUILD/baedald" $opts --help >/dev/null 2>"$dir/opts.err"; then
	ok "baedald takes the example's BAEDALD_OPTS: $opts"
else
	not_ok "baedald takes the example's BAEDALD_OPTS: $opts: $(cat "$dir/opts.err")"
fi

# systemd-analyze checks the unit as systemd would load it; ExecStart and
# the Documentation= page must exist, so this install is to a real prefix.
if command -v systemd-analyze >/dev/null; then
	prefix="$dir/prefix"
	# Without man(1), Documentation= cannot be looked up: not checked.
	man_check=--man=yes
	command -v man >/dev/null || man_check=--man=no
	if mk install PREFIX="$prefix" >"$dir/make2.log" 2>&1 &&
		MANPATH="$prefix/share/man" systemd-analyze verify "$man_check" \
			"$prefix/lib/systemd/system/baedald.service" >"$dir/verify" 2>&1 &&
		[ ! -s "$dir/verify" ]; then
		ok "systemd-analyze verify reports nothing"
	else
		not_ok "systemd-analyze verify reports nothing"
		cat "$dir/make2.log" "$dir/verify"
	fi
else
	echo "skip: systemd-analyze is not installed (Debian package systemd): the unit is not verified"
fi

if mk uninstall PREFIX=/usr DESTDIR="$root" >"$dir/make.log" 2>&1; then
	ok "make uninstall ends with 0"
else
	not_ok "make uninstall ends with 0"
	cat "$dir/make.log"
fi
files "$root" >"$dir/left"
same_list "uninstall removes exactly what install added" "$dir/before" "$dir/left"
[ ! -e "$root/usr/share/doc/baedal" ] && ok "uninstall removes share/doc/baedal" ||
	not_ok "uninstall removes share/doc/baedal"
finish
