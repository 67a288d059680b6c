/* Checks and number formatting shared by the command parser (protocol.c,
 * protocol_orders.c), the server-line parser and formatter
 * (protocol_server.c), the server and the client's reading of OK lines;
 * defined in protocol_util.c, not part of the protocol's API. */
#ifndef BAEDAL_PROTOCOL_UTIL_H
#define BAEDAL_PROTOCOL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* NULL if s[0..len) is an order name (1 to PROTO_NAME_MAX characters of
 * A-Z a-z 0-9 _ . -), else why not, as a phrase for an error text. */
const char *proto_name_problem(const char *s, size_t len);

/* Reads a decimal uint64: digits only, at least one, no sign, no
 * overflow. Returns 0 and sets *out, or -1. */
int proto_parse_u64(const char *s, size_t len, uint64_t *out);

/* Writes v in decimal at dst (room for 20 digits needed); returns the
 * digit count. The hot paths (an event line per step, a generated name
 * per order) use it instead of printf, which cost them most of their time. */
size_t proto_put_u64(char *dst, uint64_t v);

/* Whether a token given by a client is the server's: every byte of the
 * longer string is compared, whatever differs first, so the time taken
 * tells nothing about how much of a guess was right. */
int proto_token_equal(const char *given, const char *want);

#endif
