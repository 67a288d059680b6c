/* Numbers and names of the protocol (common/protocol_util.c): GEN's meals
 * and names, and decimal numbers written by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/protocol.h"
#include "common/protocol_util.h"

static void test_gen_meal(void **state)
{
	(void)state;
	assert_int_equal(proto_gen_meal(1, 1, 5, 9), 5);
	assert_int_equal(proto_gen_meal(3, 5, 7, 7), 7);
	assert_int_equal(proto_gen_meal(1, 11, 10000, 20000), 10000);
	assert_int_equal(proto_gen_meal(11, 11, 10000, 20000), 20000);
	for (uint32_t i = 1; i <= 11; i++)
		assert_int_equal(proto_gen_meal(i, 11, 10000, 20000), 10000 + (i - 1) * 1000);
	/* Integer division, as the doc says: 0 + 10 * 1 / 3 = 3. */
	assert_int_equal(proto_gen_meal(2, 4, 0, 10), 3);
	assert_int_equal(proto_gen_meal(3, 4, 0, 10), 6);
	/* (hi - lo) * (i - 1) passes 64 bits here. */
	assert_int_equal(proto_gen_meal(2, 3, 0, UINT64_MAX), UINT64_MAX / 2);
	assert_int_equal(proto_gen_meal(UINT32_MAX, UINT32_MAX, 1, UINT64_MAX), UINT64_MAX);
	/* (2^64 - 2) * (2^32 - 3) / (2^32 - 2), rounded down: 2^64 - 2^32 - 5. */
	assert_int_equal(proto_gen_meal(UINT32_MAX - 1, UINT32_MAX, 0, UINT64_MAX - 1),
	                 UINT64_C(0xfffffffefffffffb));
	uint64_t prev = 0;
	for (uint32_t i = 1; i <= 1000; i++) {
		uint64_t m = proto_gen_meal(i, 1000, 1000, UINT64_C(600000000));
		assert_true(m >= prev && m >= 1000 && m <= UINT64_C(600000000));
		prev = m;
	}
}

static void test_gen_name(void **state)
{
	char buf[PROTO_NAME_MAX + 1];
	(void)state;
	assert_int_equal(proto_gen_name(buf, sizeof buf, "o", 1), 2);
	assert_string_equal(buf, "o1");
	assert_int_equal(proto_gen_name(buf, sizeof buf, "order-", 4294967295u), 16);
	assert_string_equal(buf, "order-4294967295");
	assert_int_equal(proto_gen_name(buf, 4, "o", 123), -1);
	assert_int_equal(proto_gen_name(buf, 5, "o", 123), 4);
	assert_string_equal(buf, "o123");
	memset(buf, 'Z', sizeof buf);
	assert_int_equal(proto_gen_name(buf, 3, "o", 123), -1);
	assert_int_equal(buf[3], 'Z');
}

/* Decimal by hand, checked against printf around every power of ten (where
 * the digit count changes) and at both ends of the range. */
static void test_put_u64(void **state)
{
	char mine[24], theirs[24];
	(void)state;
	uint64_t p = 1;
	for (int k = 0; k < 20; k++, p *= 10) {
		uint64_t near[] = { p - 1, p, p + 1 };
		for (size_t i = 0; i < 3; i++) {
			size_t n = proto_put_u64(mine, near[i]);
			mine[n] = '\0';
			snprintf(theirs, sizeof theirs, "%llu", (unsigned long long)near[i]);
			assert_string_equal(mine, theirs);
		}
	}
	assert_int_equal(proto_put_u64(mine, UINT64_MAX), 20);
	mine[20] = '\0';
	assert_string_equal(mine, "18446744073709551615");
}

/* The server's token matches only itself: not a prefix, not a longer
 * string that starts with it, not the empty string. */
static void test_token_equal(void **state)
{
	(void)state;
	assert_true(proto_token_equal("s3cret", "s3cret"));
	assert_false(proto_token_equal("s3cre", "s3cret"));
	assert_false(proto_token_equal("s3crets", "s3cret"));
	assert_false(proto_token_equal("", "s3cret"));
	assert_false(proto_token_equal("s3creT", "s3cret"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gen_meal),
		cmocka_unit_test(test_gen_name),
		cmocka_unit_test(test_put_u64),
		cmocka_unit_test(test_token_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
