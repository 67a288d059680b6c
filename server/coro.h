/* Stackless coroutines (Tatham's "Coroutines in C", Dunkels' protothreads):
 * a function resumes where it last yielded, via a switch on a saved line. */
#ifndef BAEDAL_CORO_H
#define BAEDAL_CORO_H

/* The one rule: a local variable does not survive a yield. State that must
 * outlive CO_YIELD lives in the struct that holds the struct coro. And no
 * other switch may enclose a CO_YIELD inside the coroutine body. */
struct coro {
	int line;   /* 0: not started; -1: ended; else the resume point */
};

/* An ended coroutine returns at once: a stray resume of a finished order
 * must not run its ending again (that would count it twice and start a
 * sync run's next order beside the one running). */
#define CO_BEGIN(c)                                                       \
	if (CO_ENDED(c))                                                      \
		return;                                                           \
	switch ((c)->line) { case 0:

/* Returns from the coroutine; the next call resumes right after it. */
#define CO_YIELD(c)                                                       \
	do {                                                                  \
		(c)->line = __LINE__;                                             \
		return;                                                           \
	case __LINE__:;                                                       \
	} while (0)

/* Yields until cond holds; each resume re-checks it. */
#define CO_WAIT_UNTIL(c, cond)                                            \
	do {                                                                  \
		(c)->line = __LINE__;                                             \
		__attribute__((fallthrough));                                     \
	case __LINE__:                                                        \
		if (!(cond))                                                      \
			return;                                                       \
	} while (0)

#define CO_END(c)    } (c)->line = -1

#define CO_ENDED(c)  ((c)->line == -1)

#endif
