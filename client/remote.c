#include "client/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int remote_parse_addr(const char *s, struct remote_addr *out, char *err, size_t errlen)
{
	const char *host = s, *colon;
	size_t hlen;
	char *end;
	long port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "'%s' is not [IPV6]:PORT", s);
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s))) {
			snprintf(err, errlen, "'%s' is not HOST:PORT (write an IPv6 address as "
			         "[ADDR]:PORT)", s);
			return -1;
		}
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof out->host) {
		snprintf(err, errlen, "'%s' has no usable host", s);
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno || port < 1 || port > 65535) {
		snprintf(err, errlen, "'%s' has no port from 1 to 65535", s);
		return -1;
	}
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	snprintf(out->port, sizeof out->port, "%ld", port);
	return 0;
}

void remote_init(struct remote *r)
{
	r->fd = -1;
	r->in.start = r->in.end = 0;
}

void remote_close(struct remote *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

static long long remote_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline_ms: 1 ready, 0 timed out, -1 errno. */
static int remote_wait(int fd, short events, long long deadline_ms, const sigset_t *sigmask)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left = deadline_ms - remote_now_ms();
	struct timespec ts;

	if (left < 0)
		left = 0;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000;
	return ppoll(&p, 1, deadline_ms < 0 ? NULL : &ts, sigmask);
}

/* One address: 0 connected, else -1 with errno (ETIMEDOUT past deadline). */
static int remote_try(struct remote *r, const struct addrinfo *ai, long long deadline_ms,
                      const sigset_t *sigmask)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                ai->ai_protocol);
	int rc, soerr = 0, saved;
	socklen_t sl = sizeof soerr;

	if (fd < 0)
		return -1;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		rc = remote_wait(fd, POLLOUT, deadline_ms, sigmask);
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0)
			errno = soerr;
		rc = (rc > 0 && soerr == 0) ? 0 : -1;
	}
	if (rc < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	r->fd = fd;
	return 0;
}

int remote_connect(struct remote *r, const struct remote_addr *a, const char *label,
                   int timeout_ms, const sigset_t *sigmask, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	long long deadline = remote_now_ms() + timeout_ms;
	int rc = getaddrinfo(a->host, a->port, &hints, &res), last = ECONNREFUSED;

	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", a->host,
		         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (remote_try(r, ai, deadline, sigmask) == 0)
			break;
		last = errno;
		if (last == EINTR)
			break;
	}
	freeaddrinfo(res);
	if (r->fd >= 0)
		return 0;
	snprintf(err, errlen, "cannot connect to %s: %s", label,
	         last == ETIMEDOUT ? "timed out" : strerror(last));
	errno = last;
	return -1;
}

int remote_send(struct remote *r, const char *buf, size_t len, const sigset_t *sigmask,
                char *err, size_t errlen)
{
	while (len > 0) {
		ssize_t n = send(r->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (remote_wait(r->fd, POLLOUT, -1, sigmask) >= 0 || errno == EINTR)
				continue;
		} else if (n < 0 && errno == EINTR) {
			continue;
		}
		snprintf(err, errlen, "cannot send to the server: %s", strerror(errno));
		return -1;
	}
	return 0;
}

char *remote_lines_space(struct remote_lines *in, size_t *room)
{
	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	*room = REMOTE_BUF_SIZE - in->end;
	return in->buf + in->end;
}

enum remote_read_result remote_read(struct remote *r, char *err, size_t errlen)
{
	size_t room;
	char *p = remote_lines_space(&r->in, &room);
	ssize_t n;

	if (room == 0) {
		/* The caller takes every complete line before reading again. */
		snprintf(err, errlen, "the server sent a line longer than %d bytes", REMOTE_LINE_MAX);
		return REMOTE_ERROR;
	}
	n = read(r->fd, p, room);
	if (n > 0) {
		r->in.end += (size_t)n;
		return REMOTE_DATA;
	}
	if (n == 0)
		return REMOTE_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return REMOTE_AGAIN;
	snprintf(err, errlen, "cannot read from the server: %s", strerror(errno));
	return REMOTE_ERROR;
}

int remote_next_line(struct remote_lines *in, const char **line, size_t *len)
{
	const char *s = in->buf + in->start;
	size_t avail = in->end - in->start;
	const char *nl = memchr(s, '\n', avail);
	size_t n;

	if (!nl)
		return avail > REMOTE_LINE_MAX ? -1 : 0;
	n = (size_t)(nl - s);
	in->start += n + 1;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > REMOTE_LINE_MAX)
		return -1;
	*line = s;
	*len = n;
	return 1;
}
