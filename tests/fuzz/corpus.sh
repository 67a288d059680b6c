#!/bin/sh
# Writes the fuzzers' seed corpora from the protocol doc and the hand-made
# seeds of tests/fuzz/seeds/<target>/, one input per file, without its
# newline. From the doc: every line of its transcript ("> " commands, "< "
# server lines), its line formats and command synopses with each
# <placeholder> given a plausible value, and the durations it shows.
# Inputs the fuzzers found earlier stay: the corpus only grows.
#   sh tests/fuzz/corpus.sh DOC SEEDS_DIR OUT_DIR
set -eu
doc=$1
seeds=$2
out=$3
session=9f1c2b7e4d3a5f60718293a4b5c6d7e8

# Reads lines on stdin; writes each as OUT/TARGET/PREFIX-<n>.
emit() {
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s' "$line" > "$out/$1/$2-$n"
	done
}

# A value for every <placeholder>: the session ones are ids, the rest
# take the doc's words or a number.
fill() {
	sed -e "s/session=<[^>]*>/session=$session/g; s/<session>/$session/g" \
	    -e 's/<mode>/sync/g; s/<status>/done/g; s/<step>/delivered/g; s/<reason>/quit/g' \
	    -e 's/<version>/1.0.0/g; s/<name>/A/g; s/<meal>/250ms/g; s/<count>/3/g' \
	    -e 's/<token>/s3cr3t/g; s/<run ids[^>]*>/1,2/g; s/<[^>]*>/1/g' \
	    -e 's/ORDER\.\.\./A:1s B:250ms/g; s/\[//g; s/\]//g'
}

for t in fuzz_command fuzz_server_line fuzz_duration; do
	mkdir -p "$out/$t"
	cp "$seeds/$t"/* "$out/$t/"
done

transcript=$(sed -n '/<!-- transcript -->/,/<!-- \/transcript -->/p' "$doc")
printf '%s\n' "$transcript" | sed -n 's/^ *> //p' | emit fuzz_command doc
printf '%s\n' "$transcript" | sed -n 's/^ *< //p' | emit fuzz_server_line doc
# The meals of the transcript's orders, good and bad, and the doc's examples.
{
	printf '%s\n' "$transcript" | sed -n 's/^ *> //p' | tr ' ' '\n' | sed -n 's/^[^:]*://p'
	grep -o '`[0-9][0-9.]*[a-z]*`' "$doc" | tr -d '`'
} | emit fuzz_duration doc
# "### `RUN <mode> ORDER...`" and "### `PING`, `HELP`, `QUIT`".
sed -n 's/^### `\(.*\)`$/\1/p' "$doc" | sed 's/`, `/\n/g' | fill | emit fuzz_command synopsis
# The indented formats outside the transcript: "    OK run=<id> ...".
sed '/<!-- transcript -->/,/<!-- \/transcript -->/d' "$doc" |
	sed -n 's/^    \([A-Z][A-Z]* .*\)$/\1/p' | fill | emit fuzz_server_line format

for t in fuzz_command fuzz_server_line fuzz_duration; do
	if [ "$(ls "$out/$t" | wc -l)" -lt 10 ]; then
		echo "corpus.sh: too few seeds for $t (did $doc change?)" >&2
		exit 1
	fi
done
