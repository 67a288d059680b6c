/* The --listen address: "HOST:PORT" or "[V6]:PORT" to a socket address,
 * and back to text with the port the kernel really bound. */
#ifndef BAEDAL_LISTEN_ADDR_H
#define BAEDAL_LISTEN_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct listen_addr {
	struct sockaddr_storage addr;
	socklen_t len;
	int loopback;
	char text[80];       /* "127.0.0.1:7878", "[::1]:7878" */
};

/* Numeric hosts only (no DNS at start-up), or "localhost". 0 or -1. */
int listen_addr_parse(const char *spec, struct listen_addr *out, char *err, size_t errlen);
/* Reads the bound address of fd into out (port 0 becomes the real one). */
int listen_addr_bound(int fd, struct listen_addr *out);

#endif
