/* The terminal side of the client: which output suits stdout, colors,
 * the window's size, and writes that survive EINTR and short writes. */
#ifndef BAEDAL_TERM_H
#define BAEDAL_TERM_H

#include <stddef.h>

#define TERM_HIDE_CURSOR "\033[?25l"
#define TERM_SHOW_CURSOR "\033[0m\033[?25h"

enum term_output { TERM_LIVE, TERM_PLAIN, TERM_JSON };

/* --json wins; the live view needs a terminal that understands ANSI. */
enum term_output term_choose_output(int json, int plain, int is_tty, const char *term_env);

/* Colors unless --no-color, NO_COLOR set and non-empty, or TERM=dumb. */
int term_use_color(int no_color_flag, const char *no_color_env, const char *term_env);

/* The size of the terminal on fd; 80x24 when it cannot tell. */
void term_size(int fd, int *width, int *height);

/* Writes all of buf; 0, or -1 with errno. */
int term_write_all(int fd, const char *buf, size_t len);

#endif
