#!/bin/sh
# Installs the Debian packages named that are missing: with apt-get as
# root (one update first), else prints the command to run and fails.
# Another apt or dpkg at work (a fresh machine's unattended upgrades) is
# waited for, up to 10 minutes, rather than failed on.
#   sh tools/need_packages.sh WHO PACKAGE...
set -u
who=$1
shift
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "$who needs these Debian packages:$missing"
	echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing"
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# apt_locked CMD...: runs CMD, again every 10 s while it fails on a lock
# another process holds (at most 60 times); its output goes to stdout.
apt_locked() {
	tries=0
	log=$(mktemp)
	while :; do
		if "$@" >"$log" 2>&1; then
			rm -f "$log"
			return 0
		fi
		if ! grep -qE 'Could not get lock|Unable to lock|is another process using it' "$log" ||
			[ "$tries" -ge 60 ]; then
			cat "$log"
			rm -f "$log"
			return 1
		fi
		tries=$((tries + 1))
		echo "waiting for another package manager to finish ($tries)..."
		sleep 10
	done
}

echo "installing:$missing"
# shellcheck disable=SC2086 # one word a package
apt_locked apt-get -q -o DPkg::Lock::Timeout=600 update &&
	apt_locked apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends $missing
