/* Durations with units ("250ms", "3s", "1.5s", "2m") to and from whole
 * microseconds: exact decimal arithmetic, no floating point, no I/O. */
#ifndef BAEDAL_DURATION_H
#define BAEDAL_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses exactly len bytes of s: digits, an optional '.' and fraction
 * digits, then one unit of us, ms, s, m, h. Rejects signs, spaces,
 * exponents, zero, values finer than 1 us and values that overflow
 * uint64 microseconds. Returns 0 and sets *out_us, or -1. */
int duration_parse(const char *s, size_t len, uint64_t *out_us);

/* Why duration_parse rejects s ("zero: ...", "finer than 1 us, ..."), for
 * people; NULL when it accepts it. */
const char *duration_problem(const char *s, size_t len);
/* Whether s is a well-formed duration too long to count in microseconds
 * (a limit's error, not a syntax error). */
int duration_overflows(const char *s, size_t len);

/* Writes the shortest exact form of us ("3s", "1.5s", "250ms", "2m",
 * "1500us"), NUL-terminated. Returns its length, or -1 if cap is too
 * small. A 32-byte buffer always suffices. */
int duration_format(char *buf, size_t cap, uint64_t us);

/* Writes us as milliseconds with three decimals ("10000.412"), the form
 * people read; NUL-terminated; returns its length or -1. */
int duration_format_ms(char *buf, size_t cap, uint64_t us);

#endif
