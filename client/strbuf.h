/* A growable byte buffer for the client's output: each frame, table or
 * batch of lines is built in one and written with a single write(). */
#ifndef BAEDAL_STRBUF_H
#define BAEDAL_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *data;         /* NUL-terminated when len > 0 */
	size_t len, cap;
	int failed;         /* sticky: an allocation failed, the content is cut */
};

void strbuf_init(struct strbuf *b);
void strbuf_free(struct strbuf *b);
/* Empties b, keeping its memory, and forgets a failure. */
void strbuf_reset(struct strbuf *b);
void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_addch(struct strbuf *b, char c, size_t count);
void strbuf_printf(struct strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
