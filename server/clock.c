#include "server/clock.h"

#include <time.h>

uint64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t clock_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_wall_at(uint64_t mono_us)
{
	/* Per thread: the loop asks, and no lock is worth it. */
	static _Thread_local uint64_t read_at;
	static _Thread_local int64_t offset;
	uint64_t apart = mono_us > read_at ? mono_us - read_at : read_at - mono_us;
	if (read_at == 0 || apart > CLOCK_WALL_REFRESH_US) {
		read_at = clock_mono_us();
		offset = clock_wall_us() - (int64_t)read_at;
	}
	return (int64_t)mono_us + offset;
}
