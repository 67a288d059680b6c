#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

int log_set_level_name(const char *name)
{
	for (int i = LOG_ERROR; i <= LOG_DEBUG; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			current_level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

int log_enabled(enum log_level level)
{
	return level <= current_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One fputs per message, so lines of the writer thread and the loop
	 * never interleave mid-line. "info" lines carry no prefix: scripts
	 * wait for the exact text "listening on HOST:PORT". */
	if (level == LOG_INFO)
		fprintf(stderr, "%s\n", line);
	else
		fprintf(stderr, "%s: %s\n", level_names[level], line);
}
