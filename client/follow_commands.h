/* The protocol lines a command sends, and the replies they are owed. */
#ifndef BAEDAL_FOLLOW_COMMANDS_H
#define BAEDAL_FOLLOW_COMMANDS_H

#include "client/follow.h"

/* Appends the command's protocol lines to cmd and notes the replies due. */
void follow_commands(struct follow *f, struct strbuf *cmd);

#endif
