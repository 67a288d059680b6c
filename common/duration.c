/* Durations to and from whole microseconds. Integers only: a meal of
 * "0.1s" must be exactly 100000 us on every machine. */
#include "common/duration.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define US_PER_MS UINT64_C(1000)
#define US_PER_S UINT64_C(1000000)
#define US_PER_M UINT64_C(60000000)
#define US_PER_H UINT64_C(3600000000)

/* The largest unit, 1 h, is 2^10 * 3^2 * 5^8 us, so a fraction with more
 * than 10 significant digits is never whole; 19 keeps 10^n in 64 bits. */
#define FRAC_DIGITS_MAX 19

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads digits[*pos..] into *out; -1 on overflow. */
static int digits_read(const char *s, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = *pos;
	for (; i < len && is_digit(s[i]); i++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return -1;
	}
	*pos = i;
	*out = v;
	return 0;
}

static int unit_scale(const char *u, size_t n, uint64_t *scale)
{
	static const struct { const char *name; uint64_t us; } units[] = {
		{ "us", 1 }, { "ms", US_PER_MS }, { "s", US_PER_S },
		{ "m", US_PER_M }, { "h", US_PER_H },
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) {
			*scale = units[i].us;
			return 0;
		}
	}
	return -1;
}

/* The fraction s[0..n) (digits only) times scale, if whole; else -1.
 * Trailing zeros carry no value, so "1.500000000000000000000s" is fine. */
static int fraction_us(const char *s, size_t n, uint64_t scale, uint64_t *out)
{
	while (n > 0 && s[n - 1] == '0')
		n--;
	if (n > FRAC_DIGITS_MAX)
		return -1;
	uint64_t frac = 0, pow10 = 1;
	for (size_t i = 0; i < n; i++) {
		frac = frac * 10 + (uint64_t)(s[i] - '0');
		pow10 *= 10;
	}
	unsigned __int128 scaled = (unsigned __int128)frac * scale;
	if (scaled % pow10 != 0)
		return -1;
	*out = (uint64_t)(scaled / pow10);
	return 0;
}

#define TOO_LONG "too long to count in microseconds"

/* The parse, with what is wrong when it fails (NULL when nothing is). */
static const char *duration_read(const char *s, size_t len, uint64_t *out_us)
{
	static const char shape[] = "not a number and a unit (us, ms, s, m, h), such as 250ms";
	size_t pos = 0, frac_at = 0, frac_len = 0;
	uint64_t whole, scale, frac_us = 0, us;

	if (!s || len == 0 || !is_digit(s[0]))
		return shape;
	if (digits_read(s, len, &pos, &whole) < 0)
		return TOO_LONG;
	if (pos < len && s[pos] == '.') {
		frac_at = ++pos;
		while (pos < len && is_digit(s[pos]))
			pos++;
		frac_len = pos - frac_at;
		if (frac_len == 0)
			return shape;
	}
	if (unit_scale(s + pos, len - pos, &scale) < 0)
		return shape;
	if (frac_len > 0 && fraction_us(s + frac_at, frac_len, scale, &frac_us) < 0)
		return "finer than 1 us, the smallest step";
	if (__builtin_mul_overflow(whole, scale, &us) || __builtin_add_overflow(us, frac_us, &us))
		return TOO_LONG;
	if (us == 0)
		return "zero: a duration is at least 1us";
	*out_us = us;
	return NULL;
}

int duration_parse(const char *s, size_t len, uint64_t *out_us)
{
	return duration_read(s, len, out_us) ? -1 : 0;
}

int duration_overflows(const char *s, size_t len)
{
	uint64_t us;
	const char *why = duration_read(s, len, &us);
	return why && strcmp(why, TOO_LONG) == 0;
}

const char *duration_problem(const char *s, size_t len)
{
	uint64_t us;
	return duration_read(s, len, &us);
}

/* snprintf's result as this module's: the length, or -1 if it did not fit. */
static int fit(int n, size_t cap)
{
	return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

/* whole.frac<unit> with frac's trailing zeros (and a bare '.') dropped;
 * digits is the width of frac (3 for ms, 6 for s). */
static int format_decimal(char *buf, size_t cap, uint64_t whole, uint64_t frac,
                          int digits, const char *unit)
{
	if (frac == 0)
		return fit(snprintf(buf, cap, "%" PRIu64 "%s", whole, unit), cap);
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	return fit(snprintf(buf, cap, "%" PRIu64 ".%0*" PRIu64 "%s", whole, digits, frac, unit),
	           cap);
}

int duration_format(char *buf, size_t cap, uint64_t us)
{
	if (us != 0 && us % US_PER_H == 0)
		return fit(snprintf(buf, cap, "%" PRIu64 "h", us / US_PER_H), cap);
	if (us != 0 && us % US_PER_M == 0)
		return fit(snprintf(buf, cap, "%" PRIu64 "m", us / US_PER_M), cap);
	if (us >= US_PER_S)
		return format_decimal(buf, cap, us / US_PER_S, us % US_PER_S, 6, "s");
	if (us >= US_PER_MS)
		return format_decimal(buf, cap, us / US_PER_MS, us % US_PER_MS, 3, "ms");
	return fit(snprintf(buf, cap, "%" PRIu64 "us", us), cap);
}

int duration_format_ms(char *buf, size_t cap, uint64_t us)
{
	return fit(snprintf(buf, cap, "%" PRIu64 ".%03" PRIu64, us / US_PER_MS, us % US_PER_MS),
	           cap);
}
