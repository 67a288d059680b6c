/* Unit tests of common/duration.c: parsing, both formats, round-trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

/* Parses s from a heap copy of exactly its length, with no NUL after
 * it, so that AddressSanitizer reports any read past len. */
static int parse_exact(const char *s, size_t len, uint64_t *us)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, s, len);
	int rc = duration_parse(copy, len, us);
	free(copy);
	return rc;
}

static int parse(const char *s, uint64_t *us)
{
	return parse_exact(s, strlen(s), us);
}

static void test_parse_good(void **state)
{
	static const struct { const char *s; uint64_t us; } cases[] = {
		{ "1us", 1 },
		{ "250ms", 250000 },
		{ "3s", 3000000 },
		{ "1.5s", 1500000 },
		{ "2m", 120000000 },
		{ "1h", UINT64_C(3600000000) },
		{ "30ms", 30000 },
		{ "0.001ms", 1 },
		{ "1.000001s", 1000001 },
		{ "0.5ms", 500 },
		{ "1.5m", 90000000 },
		{ "0.25h", 900000000 },
		{ "0.0000001h", 360 },
		{ "0.00000001h", 36 },
		{ "007s", 7000000 },
		{ "1.500000000000000000000000000s", 1500000 },
		{ "000000000000000000000000000001us", 1 },
		{ "10.000412s", 10000412 },
		{ "18446744073709551615us", UINT64_MAX },
		{ "18446744073709.551615s", UINT64_MAX },
		{ "5124095576h", UINT64_C(18446744073600000000) },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t us = 0;
		if (parse(cases[i].s, &us) != 0)
			fail_msg("'%s' should parse", cases[i].s);
		assert_int_equal(us, cases[i].us);
	}
}

static void test_parse_bad(void **state)
{
	static const char *const cases[] = {
		"", "s", "ms", "1", "12", "1x", "1 s", " 1s", "1s ", "+1s", "-1s", "1e3ms",
		"1E3ms", ".5s", "1.s", "1..5s", "1.5.s", "1,5s", "0s", "0.0s", "0us", "000ms",
		"0.0000000000000000000000000h", "0.5us", "0.9us", "1.0000001s", "0.0001ms",
		"1.5us", "0.00000000001h", "1.00000000000000000001s", "1S", "1MS", "1Us",
		"1sec", "1mss", "1hh", "1d", "1ns", "1\xc2\xb5s", "1\ts", "s1", "ms1",
		"18446744073709551616us", "18446744073709.551616s", "99999999999999999h",
		"5124095577h", "0.000000001h", "99999999999999999999999999999999999999us", "inf", "nan", "0x10s",
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t us = 42;
		if (parse(cases[i], &us) != -1)
			fail_msg("'%s' should not parse", cases[i]);
		assert_int_equal(us, 42);
	}
}

/* What is wrong, for people: the reason names the fault. */
static void test_problem(void **state)
{
	(void)state;
	assert_null(duration_problem("250ms", 5));
	assert_string_equal(duration_problem("0s", 2), "zero: a duration is at least 1us");
	assert_string_equal(duration_problem("0.0ms", 5), "zero: a duration is at least 1us");
	assert_string_equal(duration_problem("1.5us", 5), "finer than 1 us, the smallest step");
	assert_string_equal(duration_problem("0.0001ms", 8), "finer than 1 us, the smallest step");
	assert_string_equal(duration_problem("99999999999999999999s", 21),
	                    "too long to count in microseconds");
	assert_string_equal(duration_problem("6000000000h", 11), "too long to count in microseconds");
	assert_non_null(strstr(duration_problem("3x", 2), "not a number and a unit"));
	assert_non_null(strstr(duration_problem("", 0), "not a number and a unit"));
	assert_non_null(strstr(duration_problem("1.s", 3), "not a number and a unit"));
}

static void test_parse_embedded_nul(void **state)
{
	uint64_t us;
	(void)state;
	assert_int_equal(parse_exact("1s\0", 3, &us), -1);
	assert_int_equal(parse_exact("1\0s", 3, &us), -1);
	assert_int_equal(parse_exact("\0", 1, &us), -1);
	assert_int_equal(parse_exact("1m\0s", 4, &us), -1);
}

static void test_parse_prefix_of_buffer(void **state)
{
	const char *buf = "250msXYZ";
	uint64_t us = 0;
	(void)state;
	assert_int_equal(parse_exact(buf, 5, &us), 0);
	assert_int_equal(us, 250000);
	assert_int_equal(parse_exact("3s5", 2, &us), 0);
	assert_int_equal(us, 3000000);
	/* Cut inside the unit: "1m" of "1ms" is one minute, "1" alone is nothing. */
	assert_int_equal(parse_exact("1ms", 2, &us), 0);
	assert_int_equal(us, 60000000);
	assert_int_equal(parse_exact("1ms", 1, &us), -1);
	assert_int_equal(parse_exact("1.5s", 2, &us), -1);
	assert_int_equal(parse_exact("1s", 0, &us), -1);
}

static void check_format(uint64_t us, const char *want)
{
	char buf[32];
	int n = duration_format(buf, sizeof buf, us);
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_format(void **state)
{
	(void)state;
	check_format(1, "1us");
	check_format(999, "999us");
	check_format(1000, "1ms");
	check_format(1500, "1.5ms");
	check_format(1001, "1.001ms");
	check_format(1010, "1.01ms");
	check_format(250000, "250ms");
	check_format(999999, "999.999ms");
	check_format(1000000, "1s");
	check_format(1500000, "1.5s");
	check_format(3000000, "3s");
	check_format(10000412, "10.000412s");
	check_format(1000001, "1.000001s");
	check_format(59000000, "59s");
	check_format(60000000, "1m");
	check_format(90000000, "90s");
	check_format(120000000, "2m");
	check_format(600000000, "10m");
	check_format(UINT64_C(3600000000), "1h");
	check_format(UINT64_C(5400000000), "90m");
	check_format(UINT64_C(3600000001), "3600.000001s");
	check_format(UINT64_MAX, "18446744073709.551615s");
}

static void test_format_cap(void **state)
{
	char buf[16];
	(void)state;
	memset(buf, 'Z', sizeof buf);
	assert_int_equal(duration_format(buf, 6, 1500000), 4);   /* "1.5s" + NUL */
	assert_string_equal(buf, "1.5s");
	memset(buf, 'Z', sizeof buf);
	assert_int_equal(duration_format(buf, 5, 1500000), 4);
	memset(buf, 'Z', sizeof buf);
	assert_int_equal(duration_format(buf, 4, 1500000), -1);
	assert_int_equal(buf[4], 'Z');
	assert_int_equal(duration_format(buf, 0, 1500000), -1);
	assert_int_equal(duration_format(NULL, 0, 1), -1);
	char big[32];
	assert_int_equal(duration_format(big, sizeof big, UINT64_MAX), 22);
}

static void test_format_ms(void **state)
{
	char buf[32];
	(void)state;
	assert_int_equal(duration_format_ms(buf, sizeof buf, 10000412), 9);
	assert_string_equal(buf, "10000.412");
	assert_int_equal(duration_format_ms(buf, sizeof buf, 21), 5);
	assert_string_equal(buf, "0.021");
	assert_int_equal(duration_format_ms(buf, sizeof buf, 0), 5);
	assert_string_equal(buf, "0.000");
	assert_int_equal(duration_format_ms(buf, sizeof buf, 1000), 5);
	assert_string_equal(buf, "1.000");
	assert_int_equal(duration_format_ms(buf, sizeof buf, 40097), 6);
	assert_string_equal(buf, "40.097");
	assert_int_equal(duration_format_ms(buf, sizeof buf, UINT64_MAX), 21);
	assert_string_equal(buf, "18446744073709551.615");
	memset(buf, 'Z', sizeof buf);
	assert_int_equal(duration_format_ms(buf, 5, 21), -1);
	assert_int_equal(buf[5], 'Z');
	assert_int_equal(duration_format_ms(buf, 6, 21), 5);
	assert_string_equal(buf, "0.021");
}

static void check_round_trip(uint64_t us)
{
	char buf[32];
	uint64_t back = 0;
	int n = duration_format(buf, sizeof buf, us);
	assert_true(n > 0);
	if (parse_exact(buf, (size_t)n, &back) != 0)
		fail_msg("%s (from %llu) does not parse", buf, (unsigned long long)us);
	assert_int_equal(back, us);
}

/* xorshift64: a fixed seed makes a failure reproducible. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_round_trip(void **state)
{
	static const uint64_t units[] = { 1, 1000, 1000000, 60000000, UINT64_C(3600000000) };
	uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
	(void)state;
	for (uint64_t us = 1; us <= 100000; us++)
		check_round_trip(us);
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		for (uint64_t k = 2; k <= 1000; k++) {
			check_round_trip(units[u] * k);
			check_round_trip(units[u] * k - 1);
			check_round_trip(units[u] * k + 1);
		}
	}
	for (int shift = 0; shift < 64; shift++) {
		check_round_trip(UINT64_MAX >> shift);
		check_round_trip(UINT64_C(1) << shift);
	}
	for (int i = 0; i < 200000; i++) {
		uint64_t r = next_random(&seed);
		uint64_t us = r >> (next_random(&seed) % 64);
		check_round_trip(us ? us : 1);
	}
}

/* Every other byte string: never crashes, and what parses is positive
 * and formats back to an equal value. */
static void test_parse_random_bytes(void **state)
{
	static const char alphabet[] = "0123456789..usmh \t+-e\0\xff";
	uint64_t seed = 12345;
	char line[24];
	int parsed = 0;
	(void)state;
	for (int i = 0; i < 100000; i++) {
		size_t len = next_random(&seed) % sizeof line;
		for (size_t j = 0; j < len; j++)
			line[j] = alphabet[next_random(&seed) % (sizeof alphabet - 1)];
		uint64_t us = 0;
		int rc = parse_exact(line, len, &us);
		assert_true(rc == 0 || rc == -1);
		if (rc == 0) {
			assert_true(us > 0);
			check_round_trip(us);
			parsed++;
		}
	}
	assert_true(parsed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_embedded_nul),
		cmocka_unit_test(test_parse_prefix_of_buffer),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_cap),
		cmocka_unit_test(test_format_ms),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_random_bytes),
		cmocka_unit_test(test_problem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
