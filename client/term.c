#include "client/term.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int term_is_dumb(const char *term_env)
{
	return term_env && strcmp(term_env, "dumb") == 0;
}

enum term_output term_choose_output(int json, int plain, int is_tty, const char *term_env)
{
	if (json)
		return TERM_JSON;
	if (plain || !is_tty || term_is_dumb(term_env))
		return TERM_PLAIN;
	return TERM_LIVE;
}

int term_use_color(int no_color_flag, const char *no_color_env, const char *term_env)
{
	return !no_color_flag && !(no_color_env && *no_color_env) && !term_is_dumb(term_env);
}

void term_size(int fd, int *width, int *height)
{
	struct winsize ws;

	*width = 80;
	*height = 24;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*width = ws.ws_col;
		*height = ws.ws_row;
	}
}

int term_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}
