/* A command line as the parser reads it: its tokens, and the error text
 * that echoes them (docs/protocol.md, "Errors"). */
#include "common/protocol_tokens.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* An echoed token is cut after this many bytes, so that one bad token
 * leaves room for the rest of the message. */
#define ECHO_MAX 40
/* Text kept below PROTO_ERR_TEXT so that "..." and the NUL always fit. */
#define TEXT_LIMIT (PROTO_ERR_TEXT - 4)

struct etext {
	char *buf;
	size_t len;
	int cut;
};

/* Appends n bytes whole or not at all: an escape is never split. */
static void etext_put(struct etext *t, const char *s, size_t n)
{
	if (t->cut)
		return;
	if (t->len + n > TEXT_LIMIT) {
		memcpy(t->buf + t->len, "...", 4);
		t->len += 3;
		t->cut = 1;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* A token as the client typed it, kept on one printable line. */
static void etext_token(struct etext *t, const char *tok, size_t n)
{
	size_t shown = n > ECHO_MAX ? ECHO_MAX : n;
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)tok[i];
		char esc[5];
		if (c >= 0x21 && c <= 0x7e) {
			etext_put(t, (const char *)&tok[i], 1);
		} else {
			snprintf(esc, sizeof esc, "\\x%02x", c);
			etext_put(t, esc, 4);
		}
	}
	if (shown < n)
		etext_put(t, "...", 3);
}

int proto_fail(struct proto_error *err, const char *code, const char *fmt, ...)
{
	struct etext t = { err->text, 0, 0 };
	va_list ap;

	err->code = code;
	err->text[0] = '\0';
	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (f[0] == '%' && f[1] == 't') {
			const char *tok = va_arg(ap, const char *);
			etext_token(&t, tok, va_arg(ap, size_t));
			f++;
		} else if (f[0] == '%' && f[1] == 's') {
			const char *s = va_arg(ap, const char *);
			etext_put(&t, s, strlen(s));
			f++;
		} else {
			etext_put(&t, f, 1);
		}
	}
	va_end(ap);
	return -1;
}

int proto_next_token(struct proto_parser *p, const char **tok, size_t *n)
{
	while (p->pos < p->len && p->line[p->pos] == ' ')
		p->pos++;
	if (p->pos == p->len)
		return 0;
	size_t start = p->pos;
	while (p->pos < p->len && p->line[p->pos] != ' ')
		p->pos++;
	*tok = p->line + start;
	*n = p->pos - start;
	return 1;
}

int proto_word_equal(const char *tok, size_t n, const char *word)
{
	if (strlen(word) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)tok[i], b = (unsigned char)word[i];
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

int proto_expect_end(struct proto_parser *p)
{
	const char *tok;
	size_t n;
	if (proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "%s takes no more arguments, got '%t'", p->word, tok, n);
	return 0;
}

int proto_is_option(const char *tok, size_t n, const char *key)
{
	size_t k = strlen(key);
	return n >= k && proto_word_equal(tok, k, key);
}

