/* Cooking: real CPU work, a deterministic computation run until the
 * calling thread has used the requested CPU time (its own CPU clock, so
 * time the thread spends descheduled does not count as cooking). */
#ifndef BAEDAL_COOK_H
#define BAEDAL_COOK_H

#include <stdint.h>

struct pool_job;

/* Cooks for cpu_us of this thread's CPU time, or until *stop (when not
 * NULL) becomes non-zero. Returns the CPU time it used. */
uint64_t cook(uint64_t cpu_us, const _Atomic int *stop);

/* A pool_work_fn: cooks job->in_us, leaves the CPU time used in out_us,
 * and stops early when the job is cancelled. */
void cook_job(struct pool_job *job);

#endif
