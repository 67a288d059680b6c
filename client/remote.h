/* The client's side of the connection: HOST:PORT parsing, a connect with a
 * timeout, sending whole commands and splitting what arrives into lines. */
#ifndef BAEDAL_REMOTE_H
#define BAEDAL_REMOTE_H

#include <signal.h>
#include <stddef.h>

#include "common/protocol.h"

/* A server line longer than this is an error, not something to cut. */
#define REMOTE_LINE_MAX (PROTO_MAX_LINE + 256)
#define REMOTE_BUF_SIZE 65536

struct remote_addr {
	char host[256];
	char port[6];
};

struct remote_lines {
	char buf[REMOTE_BUF_SIZE];
	size_t start, end;      /* unread bytes are buf[start..end) */
};

struct remote {
	int fd;
	struct remote_lines in;
};

enum remote_read_result { REMOTE_EOF = 0, REMOTE_DATA = 1, REMOTE_AGAIN = 2, REMOTE_ERROR = -1 };

/* Parses HOST:PORT or [IPV6]:PORT. Returns 0, or -1 with a reason in err. */
int remote_parse_addr(const char *s, struct remote_addr *out, char *err, size_t errlen);

void remote_init(struct remote *r);
void remote_close(struct remote *r);

/* Connects to a (label names it in messages), giving up after timeout_ms.
 * Waits run with sigmask installed (ppoll), so a signal the caller blocks
 * elsewhere interrupts them: then -1 with errno EINTR. 0, or -1 and err. */
int remote_connect(struct remote *r, const struct remote_addr *a, const char *label,
                   int timeout_ms, const sigset_t *sigmask, char *err, size_t errlen);

/* Sends all of buf; 0, or -1 and err. */
int remote_send(struct remote *r, const char *buf, size_t len, const sigset_t *sigmask,
                char *err, size_t errlen);

/* One read() into the line buffer (it never blocks: the socket is
 * non-blocking). Lines returned before are no longer valid afterwards. */
enum remote_read_result remote_read(struct remote *r, char *err, size_t errlen);

/* The next complete line without its "\n" or "\r\n": 1 with line and len set,
 * 0 if no complete line is buffered, -1 if the line is too long. */
int remote_next_line(struct remote_lines *in, const char **line, size_t *len);

/* Room to read into: makes space by dropping consumed bytes. */
char *remote_lines_space(struct remote_lines *in, size_t *room);

#endif
