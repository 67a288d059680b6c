/* Unit tests of server/histogram.c under random input: counts, the
 * exported buckets, percentiles within the documented error (3.2 %). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/histogram.h"

#define SAMPLES 20000

/* A fixed-seed generator: the same input on every run. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Log-uniform from 0 to about 2^36 µs: every octave gets values. */
static uint64_t rng_value(void)
{
	unsigned bits = (unsigned)(rng_next() % 37);
	return bits == 0 ? 0 : rng_next() & ((UINT64_C(1) << bits) - 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct histogram h, h2;
static uint64_t values[SAMPLES];

static void fill(struct histogram *hist, uint64_t *out, size_t n)
{
	histogram_reset(hist);
	for (size_t i = 0; i < n; i++) {
		out[i] = rng_value();
		histogram_record(hist, out[i]);
	}
}

static void test_counts_and_buckets(void **state)
{
	(void)state;
	fill(&h, values, SAMPLES);
	uint64_t sum = 0, max = 0;
	for (size_t i = 0; i < SAMPLES; i++) {
		sum += values[i];
		max = values[i] > max ? values[i] : max;
	}
	assert_int_equal(h.count, SAMPLES);
	assert_int_equal(h.sum_us, sum);
	assert_int_equal(h.max_us, max);
	assert_int_equal(histogram_cumulative(&h, HISTOGRAM_NBOUNDS), h.count);
	uint64_t fine = 0;
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
		fine += h.fine[i];
	assert_int_equal(fine, SAMPLES);
	for (unsigned b = 0; b < HISTOGRAM_NBOUNDS; b++) {
		uint64_t at_most = 0;
		for (size_t i = 0; i < SAMPLES; i++)
			at_most += values[i] <= histogram_bounds_us[b];
		assert_int_equal(histogram_cumulative(&h, b), at_most);
		assert_true(histogram_cumulative(&h, b) <= histogram_cumulative(&h, b + 1));
	}
}

static void check_percentiles(const struct histogram *hist, uint64_t *vals, size_t n)
{
	static const double qs[] = { 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0 };
	qsort(vals, n, sizeof vals[0], cmp_u64);
	for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
		size_t rank = (size_t)(qs[k] * (double)n);
		if ((double)rank < qs[k] * (double)n)
			rank++;
		uint64_t want = vals[rank ? rank - 1 : 0];
		uint64_t got = histogram_percentile(hist, qs[k]);
		if (got < want || got * HISTOGRAM_SUB > want * (HISTOGRAM_SUB + 1))
			fail_msg("q=%g: %llu for a true %llu", qs[k], (unsigned long long)got,
			         (unsigned long long)want);
	}
	assert_int_equal(histogram_percentile(hist, 1.0), vals[n - 1]);
}

static void test_percentiles_within_error(void **state)
{
	(void)state;
	fill(&h, values, SAMPLES);
	check_percentiles(&h, values, SAMPLES);
	/* Small values are exact. */
	histogram_reset(&h2);
	for (uint64_t v = 0; v < 64; v++)
		histogram_record(&h2, v);
	assert_int_equal(histogram_percentile(&h2, 0.5), 31);
}

static void test_merge(void **state)
{
	(void)state;
	static uint64_t both[2 * SAMPLES];
	fill(&h, both, SAMPLES);
	fill(&h2, both + SAMPLES, SAMPLES);
	histogram_merge(&h, &h2);
	assert_int_equal(h.count, 2 * SAMPLES);
	assert_int_equal(histogram_cumulative(&h, HISTOGRAM_NBOUNDS), 2 * SAMPLES);
	check_percentiles(&h, both, 2 * SAMPLES);
}

static void test_empty_and_huge(void **state)
{
	(void)state;
	histogram_reset(&h);
	assert_int_equal(histogram_percentile(&h, 0.99), 0);
	assert_int_equal(histogram_cumulative(&h, HISTOGRAM_NBOUNDS), 0);
	histogram_record(&h, UINT64_MAX / 2);
	assert_int_equal(h.count, 1);
	assert_int_equal(histogram_percentile(&h, 0.5), UINT64_MAX / 2 < (UINT64_C(1) << 40)
	                 ? UINT64_MAX / 2 : (UINT64_C(1) << 40) - 1);
	assert_int_equal(histogram_cumulative(&h, HISTOGRAM_NBOUNDS - 1), 0);
	assert_int_equal(histogram_cumulative(&h, HISTOGRAM_NBOUNDS), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_buckets),
		cmocka_unit_test(test_percentiles_within_error),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_empty_and_huge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
