/* Server-Sent Events: GET /events?session=ID streams a session's lines to
 * a browser (events ev, done, lagged; id: the session's seq), resumes
 * from Last-Event-ID, and bounds what a slow reader can hold. */
#ifndef BAEDAL_HTTP_SSE_H
#define BAEDAL_HTTP_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"

struct server;
struct session;
struct http_req;

/* Past this much unread output a stream's live events are dropped and
 * counted (a lagged event tells how many); past the cap even a done
 * closes it. */
#define HTTP_SSE_OUT_HIGH (1u << 20)
#define HTTP_SSE_OUT_CAP (4u << 20)
#define HTTP_SSE_MAX 4096           /* streams at once */
#define HTTP_SSE_HEARTBEAT_S 15

int http_sse_init(struct server *srv);
void http_sse_handle(struct http_req *hr);

/* The session's lines, as session.c publishes them. */
void http_sse_publish_event(struct session *s, const struct proto_event *ev, int gen_name);
void http_sse_publish_done(struct session *s, const char *line, size_t len);
/* The session is being freed: its streams end. */
void http_sse_session_gone(struct session *s);

/* Shutdown: every stream ends; then the memory goes. */
void http_sse_stop(struct server *srv);
void http_sse_free_all(struct server *srv);

#endif
