/* libFuzzer target: duration_parse on any bytes, against a reference
 * reading of the same grammar. Both must accept the same inputs with the
 * same value; what they accept is positive, formats in the documented
 * 32 bytes, and both of its printed forms parse back to the same value. */
#include <string.h>

#include "common/duration.h"
#include "tests/fuzz/fuzz.h"

/* Inputs longer than this skip the reference (run.sh caps them below). */
#define REF_MAX 8192

static int ref_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int ref_scale(const uint8_t *u, size_t n, uint64_t *scale)
{
	static const struct { const char *name; uint64_t us; } units[] = {
		{ "us", 1 }, { "ms", 1000 }, { "s", 1000000 }, { "m", 60000000 },
		{ "h", UINT64_C(3600000000) },
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) {
			*scale = units[i].us;
			return 0;
		}
	}
	return -1;
}

/* The digits with the '.' left out, as one decimal number N with k
 * fraction digits: the value is N * scale / 10^k. Worked out one decimal
 * digit at a time, so no width limits it and no shortcut of the parser
 * under test (its trailing-zero trim, its 19-digit bound) is repeated. */
static int ref_value(const uint8_t *d, size_t nd, size_t k, uint64_t scale, uint64_t *out)
{
	static uint8_t num[REF_MAX + 24];   /* least significant digit first */
	size_t n = 0;
	uint64_t carry = 0;

	for (size_t i = nd; i-- > 0;)
		if (d[i] != '.')
			num[n++] = (uint8_t)(d[i] - '0');
	for (size_t i = 0; i < n; i++) {   /* carry stays below 10 * scale */
		uint64_t v = num[i] * scale + carry;
		num[i] = (uint8_t)(v % 10);
		carry = v / 10;
	}
	for (; carry; carry /= 10)
		num[n++] = (uint8_t)(carry % 10);
	for (size_t i = 0; i < k; i++)
		if (num[i] != 0)
			return -1;              /* finer than 1 us */
	unsigned __int128 v = 0;
	for (size_t i = n; i-- > k;) {
		v = v * 10 + num[i];
		if (v > UINT64_MAX)
			return -1;              /* past uint64 microseconds */
	}
	if (v == 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/* digits [ '.' digits ] unit, nothing else. */
static int ref_parse(const uint8_t *s, size_t len, uint64_t *out)
{
	size_t i = 0, k = 0;
	uint64_t scale;

	while (i < len && ref_digit(s[i]))
		i++;
	if (i == 0)
		return -1;
	if (i < len && s[i] == '.') {
		size_t from = ++i;
		while (i < len && ref_digit(s[i]))
			i++;
		k = i - from;
		if (k == 0)
			return -1;
	}
	if (ref_scale(s + i, len - i, &scale) < 0)
		return -1;
	return ref_value(s, i, k, scale, out);
}

/* Both printed forms of us read back as us. */
static void check_formats(uint64_t us)
{
	char text[32], again[32], ms[40];
	uint64_t back = 0;

	int n = duration_format(text, sizeof text, us);
	CHECK(n > 0 && (size_t)n < sizeof text && text[n] == '\0');
	CHECK(duration_parse(text, (size_t)n, &back) == 0 && back == us);
	/* The shortest form is a fixed point: formatting it again changes nothing. */
	CHECK(duration_format(again, sizeof again, back) == n && memcmp(again, text, (size_t)n) == 0);
	/* "10000.412" is milliseconds with exact microseconds: add the unit. */
	n = duration_format_ms(ms, sizeof ms - 2, us);
	CHECK(n > 0 && (size_t)n < sizeof ms - 2);
	memcpy(ms + n, "ms", 2);
	CHECK(duration_parse(ms, (size_t)n + 2, &back) == 0 && back == us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t us = 0, want = 0;
	int rc = duration_parse((const char *)data, size, &us);

	CHECK(rc == 0 || rc == -1);
	if (size <= REF_MAX) {
		int ref = ref_parse(data, size, &want);
		CHECK(rc == ref);
		CHECK(rc < 0 || us == want);
	}
	if (rc == 0) {
		CHECK(us > 0);
		check_formats(us);
	}
	return 0;
}
