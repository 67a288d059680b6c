/* Raw HTTP against a real baedald, for the end-to-end tests of its web
 * side: requests on connections of their own, replies read to their end,
 * event streams read event by event. */
#include "tests/support_http.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/support.h"

/* The server's HTTP port, from its "http on HOST:PORT" log line (logged
 * before "listening on", which support_server_start waits for). */
int http_port(const struct test_server *srv)
{
	char *log = support_read_file(srv->log);
	const char *at = log ? strstr(log, "http on 127.0.0.1:") : NULL;
	int port = at ? atoi(at + strlen("http on 127.0.0.1:")) : -1;
	free(log);
	if (port <= 0)
		fail_msg("no \"http on\" line in %s", srv->log);
	return port;
}

/* The reply on c, read to its end. */
void http_read_reply(struct test_conn *c, struct http_reply *r)
{
	static char all[1 << 20];
	size_t got = 0;
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	while (got < sizeof all - 1 && support_now_ms() < deadline) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		ssize_t n = recv(c->fd, all + got, sizeof all - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	support_close(c);
	all[got] = '\0';
	r->status = 0;
	sscanf(all, "HTTP/1.1 %d", &r->status);
	const char *b = strstr(all, "\r\n\r\n");
	snprintf(r->head, sizeof r->head, "%.*s", b ? (int)(b - all) : (int)got, all);
	const char *t = strstr(all, "\r\nContent-Type: ");
	r->type[0] = '\0';
	if (t && (!b || t < b))
		sscanf(t + 16, "%63[^\r]", r->type);
	snprintf(r->body, sizeof r->body, "%s", b ? b + 4 : "");
}

/* Sends raw on a connection of its own, all it can (over a limit the
 * server answers and closes before taking it all), then reads the reply. */
void http_exchange(int port, const char *raw, size_t len, struct http_reply *r)
{
	struct test_conn c;
	size_t sent = 0;
	if (support_connect(&c, port) < 0)
		fail_msg("cannot connect to port %d", port);
	while (sent < len) {
		ssize_t n = send(c.fd, raw + sent, len - sent, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	http_read_reply(&c, r);
}

/* head, then total bytes of body as fast as the server takes them (in
 * chunks of the chunked encoding if chunked), then the reply. How many
 * body bytes the server let in before it stopped reading. */
size_t http_flood(int port, const char *head, int chunked, size_t total, struct http_reply *r)
{
	struct test_conn c;
	static char piece[4096 + 16];
	size_t sent = 0, len = 4096, off = 0;
	if (support_connect(&c, port) < 0)
		fail_msg("cannot connect to port %d", port);
	assert_int_equal(support_send(&c, head), 0);
	memset(piece, 'A', sizeof piece);
	if (chunked) {
		memcpy(piece, "1000\r\n", 6);
		memcpy(piece + 6 + 4096, "\r\n", 2);
		len = 6 + 4096 + 2;
	}
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	while (sent < total && support_now_ms() < deadline) {
		struct pollfd pfd = { .fd = c.fd, .events = POLLOUT };
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		ssize_t n = send(c.fd, piece + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		sent += (size_t)n;
		off = (off + (size_t)n) % len;
	}
	http_read_reply(&c, r);
	return sent;
}

/* One request on a connection of its own; the reply read to its end. */
void http_do(int port, const char *method, const char *path, const char *headers,
             const char *body, struct http_reply *r)
{
	static char req[200000];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: "
	                 "close\r\n%sContent-Type: application/x-www-form-urlencoded\r\n"
	                 "Content-Length: %zu\r\n\r\n%s", method, path, port, headers ? headers : "",
	                 body ? strlen(body) : 0, body ? body : "");
	assert_true(n > 0 && (size_t)n < sizeof req);
	http_exchange(port, req, (size_t)n, r);
}

/* A JSON string field's value (no escapes in what these tests read). */
void json_str(const char *body, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(body, pat);
	if (!p)
		fail_msg("no %s in %s", key, body);
	p += strlen(pat);
	size_t n = strcspn(p, "\"");
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

void new_session(int port, char *id, size_t cap)
{
	static struct http_reply r;
	http_do(port, "POST", "/api/sessions", NULL, "", &r);
	assert_int_equal(r.status, 201);
	json_str(r.body, "session", id, cap);
	assert_int_equal(strlen(id), 32);
}

void sse_open(struct test_conn *c, int port, const char *path, const char *headers)
{
	char req[1024], line[4096];
	if (support_connect(c, port) < 0)
		fail_msg("cannot connect to port %d", port);
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path, port,
	         headers ? headers : "");
	assert_int_equal(support_send(c, req), 0);
	support_expect_prefix(c, "HTTP/1.1 200", NULL, 0);
	/* Headers, then chunked framing: chunk sizes are lines of hex digits. */
	do {
		if (support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS) != SUPPORT_LINE)
			fail_msg("the event stream's headers did not end");
	} while (strcmp(line, "\r") != 0 && line[0]);
}

int sse_next(struct test_conn *c, struct sse_event *ev, int timeout_ms)
{
	char line[4096];
	memset(ev, 0, sizeof *ev);
	for (;;) {
		int rc = support_read_line(c, line, sizeof line, timeout_ms);
		if (rc != SUPPORT_LINE)
			return rc;
		line[strcspn(line, "\r")] = '\0';
		if (strncmp(line, "id: ", 4) == 0)
			ev->id = atoll(line + 4);
		else if (strncmp(line, "event: ", 7) == 0)
			snprintf(ev->event, sizeof ev->event, "%.31s", line + 7);
		else if (strncmp(line, "data: ", 6) == 0)
			snprintf(ev->data, sizeof ev->data, "%.1023s", line + 6);
		else if (line[0] == '\0' && ev->event[0])
			return SUPPORT_LINE;
	}
}

void post_run(int port, const char *form, int want_status, char *body, size_t cap)
{
	static struct http_reply r;
	http_do(port, "POST", "/api/runs", NULL, form, &r);
	if (r.status != want_status)
		fail_msg("POST %s: %d %s (wanted %d)", form, r.status, r.body, want_status);
	if (body)
		snprintf(body, cap, "%.*s", (int)cap - 1, r.body);
}

