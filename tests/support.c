#include "tests/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int support_tmpdir(char *buf, size_t cap)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(buf, cap, "%s/baedal-test.XXXXXX", base) >= (int)cap)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

void support_rmtree(const char *dir)
{
	char cmd[4200];
	/* The directory came from mkdtemp, so it has no quote in it. */
	if (strchr(dir, '\'') || snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= (int)sizeof cmd)
		return;
	if (system(cmd) != 0)
		fprintf(stderr, "support_rmtree: could not remove %s\n", dir);
}
