#include "server/cook.h"

#include <time.h>

#include "server/pool.h"

/* Iterations between looks at the CPU clock (a system call): about 20 us
 * of work here, so a cook overshoots by at most that. */
#define COOK_STRIDE 16384

static uint64_t thread_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The result goes here so the compiler cannot drop the computation. */
static volatile uint64_t cook_sink;

uint64_t cook(uint64_t cpu_us, const _Atomic int *stop)
{
	uint64_t start = thread_cpu_us(), used = 0;
	uint64_t x = 0x9e3779b97f4a7c15u;   /* xorshift64: cheap, never optimised away */

	while (used < cpu_us && !(stop && *stop)) {
		for (int i = 0; i < COOK_STRIDE; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		used = thread_cpu_us() - start;
	}
	cook_sink = x;
	return used;
}

void cook_job(struct pool_job *job)
{
	job->out_us = cook(job->in_us, &job->cancel);
}
