#!/bin/bash
# Healthy when baedald greets and answers PING with "OK pong" (allowed
# before AUTH, so this works with BAEDAL_TOKEN set too). Usage:
# baedal-healthcheck [HOST:PORT], default 127.0.0.1:7878.
addr=${1:-127.0.0.1:7878}
host=${addr%:*}
port=${addr##*:}
exec 3<>"/dev/tcp/$host/$port" || exit 1
IFS= read -r -t 3 greeting <&3 || exit 1
case $greeting in
HELLO\ *) ;;
*) echo "unexpected greeting: $greeting" >&2; exit 1 ;;
esac
printf 'PING\n' >&3
IFS= read -r -t 3 reply <&3 || exit 1
reply=${reply%$'\r'}
printf 'QUIT\n' >&3 2>/dev/null
exec 3>&-
if [ "$reply" != "OK pong" ]; then
	echo "PING answered: $reply" >&2
	exit 1
fi
echo "OK pong"
