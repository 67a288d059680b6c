/* The two clocks: CLOCK_MONOTONIC for every duration the server measures,
 * the wall clock only for humans reading the database. */
#ifndef BAEDAL_CLOCK_H
#define BAEDAL_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_us(void);
int64_t clock_wall_us(void);

/* The wall clock at mono_us, a recent CLOCK_MONOTONIC reading, from the
 * two clocks' offset as read at most CLOCK_WALL_REFRESH_US before: one
 * clock read per event instead of two, where events come by the million.
 * A wall clock that is stepped shows up here that much later. */
#define CLOCK_WALL_REFRESH_US 100000u
int64_t clock_wall_at(uint64_t mono_us);

#endif
