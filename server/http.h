/* The web side of the server: libevent's evhttp on the server's own loop,
 * one table of routes, the token, and errors as JSON (docs/http.md). */
#ifndef BAEDAL_HTTP_H
#define BAEDAL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <event2/keyvalq_struct.h>

#include "common/protocol.h"

struct store_read;

struct server;
struct evhttp;
struct evhttp_request;
struct evbuffer;
struct evconnlistener;
struct event;
struct http_sse;
struct http_client;
struct http_export;

/* The web side's state, one per server. */
struct http {
	struct evhttp *eh;
	struct evconnlistener *listener;
	int loopback;                  /* bound to a loopback address: Host is checked */
	struct http_sse *streams;      /* every SSE stream (http_sse.c) */
	size_t nstreams;
	struct event *heartbeat;
	struct http_sse *sse_dirty;    /* streams with output to flush (http_sse.c) */
	struct event *sse_flush;       /* flushes them, once the callback is done */
	struct evbuffer *sse_scratch;  /* a line's event, formatted once for all */
	struct http_client *clients;   /* protocol connections for POSTs (http_submit.c) */
	struct http_export *exports;   /* exports being streamed (http_export.c) */
	size_t nexports;
	struct store_read *reader;     /* short reads, on the loop (http_api.c) */
};

#define HTTP_DEFAULT "127.0.0.1:7879"
/* A request's body (POST /api/runs carries at most a RUN line's worth of
 * orders) and its headers. */
#define HTTP_BODY_MAX (16u << 10)
#define HTTP_HEADERS_MAX (8u << 10)

/* One request, as a handler sees it. */
struct http_req {
	struct evhttp_request *req;
	struct server *srv;
	struct evkeyvalq query;     /* the URL's ?key=value pairs */
	uint64_t id;                /* a route's run id (the '#' in its pattern) */
	const char *arg;            /* a route's '*' segment, NUL-terminated */
};

/* Starts listening on cfg->http, unless it is "off"; logs "http on
 * HOST:PORT". A default address that is taken only warns. 0 or -1. */
int http_start(struct server *srv);
/* Stops listening and ends every stream (shutdown). */
void http_stop(struct server *srv);
void http_free(struct server *srv);

/* A reply with a body (the buffer is drained) and a content type. */
void http_reply(struct evhttp_request *req, int status, const char *type, struct evbuffer *body);
/* {"error":code,"message":...} with the status the code maps to. */
void http_reply_error(struct evhttp_request *req, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The HTTP status for one of the protocol's error codes (or the web
 * side's own: not_found, method, too_large, session_attached, bad_request). */
int http_error_status(const char *code);
/* The value of key in the query, or NULL. */
const char *http_query(const struct http_req *hr, const char *key);
/* A session id from the request, in the lower case the server keeps:
 * 0, or -1 after an error reply. */
int http_session_id(struct http_req *hr, const char *id, char out[PROTO_SESSION_HEX + 1]);
/* A HEAD request to a streaming route gets its headers only, here, and no
 * stream: 1 if it was one, else 0. */
int http_head_only(struct http_req *hr, const char *type);

#endif
