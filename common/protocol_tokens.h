/* The command parser's reading of a line, shared by protocol.c (the
 * commands) and protocol_orders.c (RUN's and GEN's arguments): the parse's
 * state, its tokens, and the error it fails with. Defined in
 * protocol_tokens.c, not part of the protocol's API. */
#ifndef BAEDAL_PROTOCOL_TOKENS_H
#define BAEDAL_PROTOCOL_TOKENS_H

#include <stddef.h>

#include "common/protocol.h"

/* One command line being parsed into out; a failure fills err. */
struct proto_parser {
	const char *line;
	size_t len, pos;
	const char *word;                 /* the command, upper-case */
	const struct proto_limits *lim;
	struct cmd *out;
	struct proto_error *err;
};

/* Fills err and returns -1. fmt knows two conversions: %s, a C string
 * of ours, and %t, a client's token as (const char *, size_t), echoed
 * with its unprintable bytes escaped and cut if long. */
int proto_fail(struct proto_error *err, const char *code, const char *fmt, ...);

/* The next token at *tok, *n bytes: 1, or 0 at the end of the line. Only
 * spaces separate: a tab stays in its token and fails there. */
int proto_next_token(struct proto_parser *p, const char **tok, size_t *n);

/* Whether tok[0..n) is word, whatever the case of either: 1 or 0. */
int proto_word_equal(const char *tok, size_t n, const char *word);

/* 0 if the line has no more tokens, else -1: the command takes no more. */
int proto_expect_end(struct proto_parser *p);

/* Whether tok[0..n) starts with key (such as "riders="), in any case. */
int proto_is_option(const char *tok, size_t n, const char *key);

#endif
