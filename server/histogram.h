/* A log-linear histogram of microsecond values in fixed memory (HDR-style):
 * exact below 64 µs, then 32 linear buckets per power of two. */
#ifndef BAEDAL_HISTOGRAM_H
#define BAEDAL_HISTOGRAM_H

#include <stdint.h>

/* 32 buckets a power of two: a bucket is at most 1/32 of its lower edge
 * wide, so a percentile read from it is at most 3.2 % above the value at
 * that rank, never below it. */
#define HISTOGRAM_SUB_BITS 5
#define HISTOGRAM_SUB (1u << HISTOGRAM_SUB_BITS)
/* Values are clamped to 2^40 µs (12.7 days); max keeps the true largest. */
#define HISTOGRAM_MAX_BITS 40
#define HISTOGRAM_BUCKETS ((HISTOGRAM_MAX_BITS - HISTOGRAM_SUB_BITS + 1) * HISTOGRAM_SUB)

/* The fixed bounds of the exported buckets (Prometheus' "le"), in µs. */
#define HISTOGRAM_NBOUNDS 17
extern const uint64_t histogram_bounds_us[HISTOGRAM_NBOUNDS];

struct histogram {
	uint64_t count, sum_us, max_us;
	/* Values at most histogram_bounds_us[i] and above the bound before
	 * it; the last slot counts values above every bound. */
	uint64_t coarse[HISTOGRAM_NBOUNDS + 1];
	uint64_t fine[HISTOGRAM_BUCKETS];
};

void histogram_reset(struct histogram *h);
void histogram_record(struct histogram *h, uint64_t us);
/* Adds src's counts into dst. */
void histogram_merge(struct histogram *dst, const struct histogram *src);

/* The value at quantile q (0 < q <= 1): the upper edge of the bucket that
 * holds the ceil(q * count)-th smallest value, at most max_us. 0 when
 * empty. */
uint64_t histogram_percentile(const struct histogram *h, double q);

/* Values at most histogram_bounds_us[i] (Prometheus' cumulative bucket);
 * i = HISTOGRAM_NBOUNDS: all of them, the +Inf bucket. */
uint64_t histogram_cumulative(const struct histogram *h, unsigned i);

#endif
