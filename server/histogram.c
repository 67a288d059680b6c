#include "server/histogram.h"

#include <string.h>

/* From 50 µs (a timer armed early and waited out on the CPU) to 10 s (a
 * cook that held everything). */
const uint64_t histogram_bounds_us[HISTOGRAM_NBOUNDS] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

static const uint64_t histogram_clamp = (UINT64_C(1) << HISTOGRAM_MAX_BITS) - 1;

static unsigned histogram_index(uint64_t v)
{
	if (v < 2 * HISTOGRAM_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HISTOGRAM_SUB_BITS;
	return (shift + 1) * HISTOGRAM_SUB + (unsigned)(v >> shift) - HISTOGRAM_SUB;
}

/* The largest value that falls in bucket i. */
static uint64_t histogram_upper(unsigned i)
{
	if (i < 2 * HISTOGRAM_SUB)
		return i;
	unsigned shift = i / HISTOGRAM_SUB - 1;
	uint64_t lower = (uint64_t)(HISTOGRAM_SUB + i % HISTOGRAM_SUB) << shift;
	return lower + (UINT64_C(1) << shift) - 1;
}

void histogram_reset(struct histogram *h)
{
	memset(h, 0, sizeof *h);
}

void histogram_record(struct histogram *h, uint64_t us)
{
	h->count++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
	h->fine[histogram_index(us < histogram_clamp ? us : histogram_clamp)]++;
	/* Most values are small: the scan usually stops at the first bound. */
	unsigned b = 0;
	while (b < HISTOGRAM_NBOUNDS && us > histogram_bounds_us[b])
		b++;
	h->coarse[b]++;
}

void histogram_merge(struct histogram *dst, const struct histogram *src)
{
	dst->count += src->count;
	dst->sum_us += src->sum_us;
	if (src->max_us > dst->max_us)
		dst->max_us = src->max_us;
	for (unsigned i = 0; i <= HISTOGRAM_NBOUNDS; i++)
		dst->coarse[i] += src->coarse[i];
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
		dst->fine[i] += src->fine[i];
}

uint64_t histogram_percentile(const struct histogram *h, double q)
{
	if (h->count == 0)
		return 0;
	double want = q * (double)h->count;
	uint64_t rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		seen += h->fine[i];
		if (seen >= rank) {
			uint64_t up = histogram_upper(i);
			return up < h->max_us ? up : h->max_us;
		}
	}
	return h->max_us;
}

uint64_t histogram_cumulative(const struct histogram *h, unsigned i)
{
	uint64_t n = 0;
	for (unsigned b = 0; b <= i && b <= HISTOGRAM_NBOUNDS; b++)
		n += h->coarse[b];
	return n;
}
