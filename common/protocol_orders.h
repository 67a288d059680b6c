/* The parsers of RUN's and GEN's arguments, called by
 * proto_parse_command (protocol.c) once it has read the command's word.
 * Defined in protocol_orders.c, not part of the protocol's API. */
#ifndef BAEDAL_PROTOCOL_ORDERS_H
#define BAEDAL_PROTOCOL_ORDERS_H

#include "common/protocol_tokens.h"

/* RUN <mode> ORDER... [group=] [riders=] [deadline=], into p->out: 0, or
 * -1 with p->err filled. */
int proto_parse_run(struct proto_parser *p);

/* GEN <mode> <count> <meal>[..<meal>] [prefix=] and RUN's options, each
 * at most once, in any order: 0, or -1 with p->err filled. */
int proto_parse_gen(struct proto_parser *p);

#endif
