/* The two clocks: CLOCK_MONOTONIC for every duration the server measures,
 * the wall clock only for humans reading the database. */
#ifndef BAEDAL_CLOCK_H
#define BAEDAL_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_us(void);
int64_t clock_wall_us(void);

#endif
