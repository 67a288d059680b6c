/* Raw HTTP against a real baedald, for the end-to-end tests of its web
 * side. Include after cmocka.h and tests/support.h. */
#ifndef BAEDAL_TEST_SUPPORT_HTTP_H
#define BAEDAL_TEST_SUPPORT_HTTP_H

#include <stddef.h>

struct test_server;
struct test_conn;

struct http_reply {
	int status;
	char type[64];      /* its Content-Type */
	char head[4096];    /* the status line and headers */
	char body[65536];
};

/* An event stream's next event: its id (0: none), name and data. */
struct sse_event {
	long long id;
	char event[32];
	char data[1024];
};

/* The server's HTTP port, from its "http on HOST:PORT" log line (logged
 * before "listening on", which support_server_start waits for). */
int http_port(const struct test_server *srv);
/* The reply on c, read to its end. */
void http_read_reply(struct test_conn *c, struct http_reply *r);
/* Sends raw on a connection of its own, all it can (over a limit the
 * server answers and closes before taking it all), then reads the reply. */
void http_exchange(int port, const char *raw, size_t len, struct http_reply *r);
/* head, then total bytes of body as fast as the server takes them (in
 * chunks of the chunked encoding if chunked), then the reply. How many
 * body bytes the server let in before it stopped reading. */
size_t http_flood(int port, const char *head, int chunked, size_t total, struct http_reply *r);
/* One request on a connection of its own; the reply read to its end. */
void http_do(int port, const char *method, const char *path, const char *headers,
             const char *body, struct http_reply *r);
/* A JSON string field's value (no escapes in what these tests read). */
void json_str(const char *body, const char *key, char *out, size_t cap);
/* POST /api/sessions: the new session's id. */
void new_session(int port, char *id, size_t cap);
/* GET path as an event stream on c, read up to its first event. */
void sse_open(struct test_conn *c, int port, const char *path, const char *headers);
/* The next event into ev: SUPPORT_LINE, or what support_read_line said. */
int sse_next(struct test_conn *c, struct sse_event *ev, int timeout_ms);
/* POST /api/runs with form; fails the test unless the status is want_status.
 * The reply's body into body, if not NULL. */
void post_run(int port, const char *form, int want_status, char *body, size_t cap);

#endif
