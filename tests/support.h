/* Helpers shared by the test programs: temporary directories and, for the
 * end-to-end tests, a real baedald started on port 0 and stopped by PID. */
#ifndef BAEDAL_TEST_SUPPORT_H
#define BAEDAL_TEST_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Makes a fresh directory under $TMPDIR (or /tmp); returns 0 or -1. */
int support_tmpdir(char *buf, size_t cap);
/* Removes a directory made by support_tmpdir and everything in it. */
void support_rmtree(const char *dir);

#endif
