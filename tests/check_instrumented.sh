#!/bin/sh
# Fails unless every object of the project in BUILD_DIR carries
# AddressSanitizer code, and UndefinedBehaviorSanitizer code where it has
# functions: a sanitizer flag
# lost on the way to the compiler must not pass for a checked build.
#   sh tests/check_instrumented.sh BUILD_DIR
set -u
dir=${1:?usage: check_instrumented.sh BUILD_DIR}
n=0
bad=""
for o in $(find "$dir" -name '*.o' | sort); do
	n=$((n + 1))
	syms=$(nm "$o" 2>/dev/null)
	echo "$syms" | grep -q '__asan_' || bad="$bad $o(asan)"
	# UBSan has nothing to check in an object without functions of its
	# own (the embedded schema is data only).
	if echo "$syms" | grep -q ' T '; then
		echo "$syms" | grep -q '__ubsan_' || bad="$bad $o(ubsan)"
	fi
done
if [ "$n" -eq 0 ]; then
	echo "check_instrumented: no objects in $dir" >&2
	exit 1
fi
if [ -n "$bad" ]; then
	echo "check_instrumented: built without the sanitizers:$bad" >&2
	exit 1
fi
echo "check_instrumented: all $n objects in $dir carry ASan and UBSan"
