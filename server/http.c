#include "server/http.h"

#include <errno.h>
#include <sys/queue.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "common/protocol_util.h"
#include "server/export.h"
#include "server/health.h"
#include "server/http_api.h"
#include "server/http_export.h"
#include "server/http_page.h"
#include "server/http_sse.h"
#include "server/http_submit.h"
#include "server/listen_addr.h"
#include "server/log.h"
#include "server/server.h"
#include "server/store_read.h"

/* ---- routes ------------------------------------------------------------- */

static void http_metrics(struct http_req *hr)
{
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		http_reply_error(hr->req, "busy", "out of memory");
		return;
	}
	health_write_metrics(body, hr->srv);
	http_reply(hr->req, 200, "text/plain; version=0.0.4; charset=utf-8", body);
	evbuffer_free(body);
}

/* A pattern matches a path segment by segment: '#' a run id (digits),
 * '*' any one segment; every other character itself. */
struct http_route {
	enum evhttp_cmd_type method;
	const char *pattern;
	void (*handle)(struct http_req *hr);
	int open;       /* served without the token: compiled-in files, no data */
};

static const struct http_route http_routes[] = {
	{ EVHTTP_REQ_GET, "/", http_page_index, 0 },
	{ EVHTTP_REQ_GET, "/s/*", http_page_index, 0 },
	{ EVHTTP_REQ_GET, "/static/*", http_page_asset, 1 },
	{ EVHTTP_REQ_GET, "/events", http_sse_handle, 0 },
	{ EVHTTP_REQ_GET, "/api/runs", http_api_runs, 0 },
	{ EVHTTP_REQ_POST, "/api/runs", http_submit_run, 0 },
	{ EVHTTP_REQ_POST, "/api/sessions", http_submit_session, 0 },
	{ EVHTTP_REQ_GET, "/api/runs/#", http_api_run, 0 },
	{ EVHTTP_REQ_GET, "/api/runs/#/timeline.svg", http_export_svg, 0 },
	{ EVHTTP_REQ_GET, "/api/runs/#/trace.json", http_export_trace, 0 },
	{ EVHTTP_REQ_GET, "/metrics", http_metrics, 0 },
};

#define HTTP_SEGMENT_MAX 128

/* Whether path matches pattern; fills hr's id and arg (into seg). */
static int http_match(const char *pattern, const char *path, struct http_req *hr,
                      char seg[HTTP_SEGMENT_MAX])
{
	while (*pattern) {
		size_t n = strcspn(path, "/");
		if (*pattern == '#' || *pattern == '*') {
			if (n == 0 || n >= HTTP_SEGMENT_MAX)
				return 0;
			if (*pattern == '#') {
				if (n > 18 || strspn(path, "0123456789") != n)
					return 0;
				hr->id = strtoull(path, NULL, 10);
			} else {
				memcpy(seg, path, n);
				seg[n] = '\0';
				hr->arg = seg;
			}
			pattern++;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0';
}

/* ---- replies ------------------------------------------------------------ */

int http_error_status(const char *code)
{
	static const struct { const char *code; int status; } map[] = {
		{ "auth_required", 401 }, { "bad_token", 401 }, { "not_found", 404 },
		{ "no_session", 404 }, { "no_run", 404 }, { "method", 405 },
		{ "session_attached", 409 }, { "too_large", 413 }, { "busy", 503 },
		{ "cross_origin", 403 }, { "bad_host", 403 },
		{ "storage", 503 },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strcmp(map[i].code, code) == 0)
			return map[i].status;
	}
	return 400;
}

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

void http_reply(struct evhttp_request *req, int status, const char *type, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (body && evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* libevent 2.1 would send the body after a HEAD's headers too:
		 * its length only, then nothing. */
		char len[24];
		snprintf(len, sizeof len, "%zu", evbuffer_get_length(body));
		evhttp_add_header(h, "Content-Length", len);
		evbuffer_drain(body, evbuffer_get_length(body));
		body = NULL;
	}
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, status, http_reason(status), body);
}

void http_reply_error(struct evhttp_request *req, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	evbuffer_add_printf(body, "{\"error\":");
	export_json_string(body, code);
	evbuffer_add_printf(body, ",\"message\":");
	export_json_string(body, msg);
	evbuffer_add(body, "}\n", 2);
	int status = http_error_status(code);
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		                  "Bearer realm=\"baedal\"");
	http_reply(req, status, "application/json", body);
	evbuffer_free(body);
}

const char *http_query(const struct http_req *hr, const char *key)
{
	return evhttp_find_header(&hr->query, key);
}

int http_session_id(struct http_req *hr, const char *id, char out[PROTO_SESSION_HEX + 1])
{
	if (!id || !proto_session_valid(id, strlen(id))) {
		http_reply_error(hr->req, "bad_session", "session= must be a session id: 32 hex digits");
		return -1;
	}
	proto_session_lower(out, id);
	return 0;
}

int http_head_only(struct http_req *hr, const char *type)
{
	if (evhttp_request_get_command(hr->req) != EVHTTP_REQ_HEAD)
		return 0;
	http_reply(hr->req, 200, type, NULL);
	return 1;
}

/* ---- requests ----------------------------------------------------------- */

/* The token from "Authorization: Bearer X", else from ?token=X (what an
 * EventSource, which sends no headers of its own, can carry). */
static int http_authorized(const struct http_req *hr)
{
	const char *want = hr->srv->cfg->token;
	if (!want)
		return 1;
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(hr->req),
	                                      "Authorization");
	if (auth && strncmp(auth, "Bearer ", 7) == 0)
		return proto_token_equal(auth + 7, want);
	const char *q = http_query(hr, "token");
	return q && proto_token_equal(q, want);
}

/* Whether the Host header names this machine's loopback: a name a web
 * page elsewhere could point at 127.0.0.1 (DNS rebinding) is not one. */
static int http_host_is_loopback(const char *host)
{
	static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };
	size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == n && strncasecmp(host, names[i], n) == 0 &&
		    (host[n] == '\0' || (host[n] == ':' && strspn(host + n + 1, "0123456789") ==
		                          strlen(host + n + 1))))
			return 1;
	return 0;
}

/* A request a page of another site made the browser send: its Origin is
 * not this server (or a fetch says cross-site). Only what changes
 * something is refused so; reading is the Host check's and the token's. */
static int http_cross_origin(struct evhttp_request *req)
{
	const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(in, "Origin");
	const char *host = evhttp_find_header(in, "Host");
	const char *site = evhttp_find_header(in, "Sec-Fetch-Site");
	if (site && strcasecmp(site, "cross-site") == 0)
		return 1;
	if (!origin)
		return 0;
	const char *at = strstr(origin, "://");
	return !host || !at || strcasecmp(at + 3, host) != 0;
}

/* 0, or -1 after a 403. Without a token, a web page of any site could
 * make the browser of someone on this machine ask: a loopback server
 * answers only requests for a loopback name, and takes changes only from
 * its own pages. With a token, the token is the guard (a page elsewhere
 * cannot know it), and a reverse proxy may name the server as it likes. */
static int http_guard(struct http_req *hr)
{
	if (hr->srv->cfg->token)
		return 0;
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(hr->req), "Host");
	if (hr->srv->http->loopback && host && !http_host_is_loopback(host)) {
		http_reply_error(hr->req, "bad_host", "this server answers to 127.0.0.1, localhost or "
		                 "[::1] only (it listens on loopback)");
		return -1;
	}
	if (evhttp_request_get_command(hr->req) == EVHTTP_REQ_POST && http_cross_origin(hr->req)) {
		http_reply_error(hr->req, "cross_origin", "a page of another site may not submit here");
		return -1;
	}
	return 0;
}

static void http_route(struct http_req *hr, const char *path)
{
	char seg[HTTP_SEGMENT_MAX];
	enum evhttp_cmd_type method = evhttp_request_get_command(hr->req);
	int path_known = 0, gets = 0, posts = 0;
	const struct http_route *found = NULL;
	for (size_t i = 0; i < sizeof http_routes / sizeof http_routes[0] && !found; i++) {
		const struct http_route *r = &http_routes[i];
		if (!http_match(r->pattern, path, hr, seg))
			continue;
		path_known = 1;
		gets |= r->method == EVHTTP_REQ_GET;
		posts |= r->method == EVHTTP_REQ_POST;
		if (r->method == method || (method == EVHTTP_REQ_HEAD && r->method == EVHTTP_REQ_GET))
			found = r;
	}
	if ((!found || !found->open) && !http_authorized(hr)) {
		log_warn("http: a request with a missing or wrong token");
		http_reply_error(hr->req, "auth_required", "send the server's token: "
		                 "Authorization: Bearer <token>, or ?token=<token>");
	} else if (found) {
		found->handle(hr);
	} else if (path_known) {
		evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Allow",
		                  gets && posts ? "GET, HEAD, POST" : gets ? "GET, HEAD" : "POST");
		http_reply_error(hr->req, "method", "%s does not take this method", path);
	}
	else
		http_reply_error(hr->req, "not_found", "no such page: %s (see docs/http.md)", path);
}

#define HTTP_QUERY_KEYS_MAX 16   /* no route takes more than a few */

/* A key given twice in the query (the routes read the first), "" for
 * more keys than any route takes (the check is quadratic), or NULL. */
static const char *http_query_repeat(const struct evkeyvalq *q)
{
	const struct evkeyval *a, *b;
	int n = 0;
	TAILQ_FOREACH(a, q, next)
		if (++n > HTTP_QUERY_KEYS_MAX)
			return "";
	TAILQ_FOREACH(a, q, next)
		for (b = TAILQ_NEXT(a, next); b; b = TAILQ_NEXT(b, next))
			if (strcmp(a->key, b->key) == 0)
				return a->key;
	return NULL;
}

static void http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http_req hr = { .req = req, .srv = arg };
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const char *repeat;

	TAILQ_INIT(&hr.query);
	if (!path || (query && evhttp_parse_query_str(query, &hr.query) < 0)) {
		http_reply_error(req, "bad_args", "the request's URL does not parse");
	} else if (query && strstr(query, "%00")) {
		/* Decoded, it would end its value early, unseen. */
		http_reply_error(req, "bad_args", "the request's URL has a NUL byte (%%00)");
	} else if ((repeat = http_query_repeat(&hr.query)) && !*repeat) {
		http_reply_error(req, "bad_args", "the URL has more than %d keys", HTTP_QUERY_KEYS_MAX);
	} else if (repeat) {
		http_reply_error(req, "bad_args", "%.64s= is given twice in the URL", repeat);
	} else if (http_guard(&hr) == 0) {
		http_route(&hr, path);
	}
	evhttp_clear_headers(&hr.query);
}

/* ---- libevent's own error pages ------------------------------------------ */

/* libevent 2.1 answers some requests itself, before any callback of ours
 * sees them: a body over evhttp_set_max_body_size (413), a request line
 * and headers over evhttp_set_max_headers_size or that do not parse (400),
 * a method it does not know (501). No hook reaches an incoming request
 * before its body is read (evhttp_request_set_header_cb and _chunked_cb
 * serve requests we make), so its limits are what bound a request's
 * memory; its answer is an HTML page, which is rewritten here, on the
 * connection's output, into the JSON error every other answer is. */
#define PAGE_HEAD "<HTML><HEAD>\n<TITLE>"
#define PAGE_TAIL "</BODY></HTML>\n"
#define PAGE_TYPE "\r\nContent-Type: text/html\r\n"
#define PAGE_MAX 1024

/* The code for the status libevent answered with. */
static const char *http_page_code(int status, char *msg, size_t cap)
{
	switch (status) {
	case 413:
		snprintf(msg, cap, "a request's body is at most %u bytes", HTTP_BODY_MAX);
		return "too_large";
	case 501:
		snprintf(msg, cap, "the server does not take this method");
		return "method";
	case 503:
		snprintf(msg, cap, "out of memory; try again");
		return "busy";
	}
	snprintf(msg, cap, "the request does not parse, or its request line and headers are "
	         "over %u bytes", HTTP_HEADERS_MAX);
	return "bad_request";
}

/* The reply in text, if it is one of libevent's pages, as JSON in out. */
static int http_page_json(const char *text, struct evbuffer *out)
{
	int status = 0, major = 0, minor = 0, n = 0;
	const char *end = strstr(text, "\r\n\r\n");
	const char *type = strstr(text, PAGE_TYPE);
	if (sscanf(text, "HTTP/%1d.%1d %3d %n", &major, &minor, &status, &n) != 3 || n == 0 ||
	    !end || !type || type > end || strncmp(end + 4, PAGE_HEAD, strlen(PAGE_HEAD)) != 0)
		return -1;
	char msg[160];
	const char *code = http_page_code(status, msg, sizeof msg);
	struct evbuffer *body = evbuffer_new();
	if (!body)
		return -1;
	evbuffer_add_printf(body, "{\"error\":\"%s\",\"message\":", code);
	export_json_string(body, msg);
	evbuffer_add(body, "}\n", 2);
	status = http_error_status(code);
	evbuffer_add_printf(out, "HTTP/%d.%d %d %s\r\nContent-Type: application/json\r\n"
	                    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	                    "Connection: close\r\nContent-Length: %zu\r\n\r\n", major, minor,
	                    status, http_reason(status), evbuffer_get_length(body));
	evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	return 0;
}

/* Called as the output grows: once it holds exactly one of libevent's
 * pages (it writes them whole, on an idle connection), swaps it. */
static void http_page_rewrite_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
                                 void *arg)
{
	(void)arg;
	size_t len = evbuffer_get_length(out), tail = strlen(PAGE_TAIL);
	char text[PAGE_MAX + 1];
	struct evbuffer_ptr at;
	if (info->n_added == 0 || len > PAGE_MAX || len < tail ||
	    evbuffer_ptr_set(out, &at, len - tail, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(out, &at, text, tail) != (ev_ssize_t)tail ||
	    memcmp(text, PAGE_TAIL, tail) != 0)
		return;
	evbuffer_copyout(out, text, len);
	text[len] = '\0';
	struct evbuffer *json = evbuffer_new();
	if (!json)
		return;
	if (http_page_json(text, json) == 0) {
		evbuffer_drain(out, len);
		evbuffer_add_buffer(out, json);
	}
	evbuffer_free(json);
}

/* Connections are client I/O, served first like the TCP side's. */
static struct bufferevent *http_bev_cb(struct event_base *base, void *arg)
{
	(void)arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	bufferevent_priority_set(bev, PRIO_IO);
	if (!evbuffer_add_cb(bufferevent_get_output(bev), http_page_rewrite_cb, NULL)) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

/* ---- start and stop ----------------------------------------------------- */

static int http_bind(struct server *srv, struct http *h, int fallback)
{
	struct listen_addr la;
	char err[256];
	if (listen_addr_parse(srv->cfg->http, &la, err, sizeof err) < 0) {
		log_error("--http %s: %s", srv->cfg->http, err);
		return -1;
	}
	h->listener = evconnlistener_new_bind(srv->base, NULL, NULL,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
		(struct sockaddr *)&la.addr, (int)la.len);
	if (!h->listener) {
		if (!fallback) {
			log_error("cannot listen for http on %s: %s", srv->cfg->http, strerror(errno));
			return -1;
		}
		log_warn("cannot listen for http on %s: %s; the web view is off "
		         "(--http HOST:PORT picks another address)", srv->cfg->http, strerror(errno));
		return 1;
	}
	if (!evhttp_bind_listener(h->eh, h->listener) ||
	    listen_addr_bound(evconnlistener_get_fd(h->listener), &la) < 0)
		return -1;
	h->loopback = la.loopback;
	if (!la.loopback && !srv->cfg->token)
		log_warn("http %s is not a loopback address and no token is set: anyone who "
		         "reaches it can see every run and submit orders (see --token-file)", la.text);
	log_info("http on %s", la.text);
	return 0;
}

int http_start(struct server *srv)
{
	const char *spec = srv->cfg->http;
	if (!spec || strcmp(spec, "off") == 0)
		return 0;
	struct http *h = calloc(1, sizeof *h);
	if (!h || !(h->eh = evhttp_new(srv->base))) {
		free(h);
		log_error("cannot set up http");
		return -1;
	}
	srv->http = h;
	uint64_t us = srv->cfg->idle_timeout_us;
	struct timeval idle = { .tv_sec = (time_t)(us / 1000000u),
	                        .tv_usec = (suseconds_t)(us % 1000000u) };
	evhttp_set_timeout_tv(h->eh, &idle);
	/* evhttp enforces both, before a request reaches us; its answers are
	 * made JSON by http_page_rewrite_cb. */
	evhttp_set_max_body_size(h->eh, HTTP_BODY_MAX);
	evhttp_set_max_headers_size(h->eh, HTTP_HEADERS_MAX);
	evhttp_set_allowed_methods(h->eh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	                           EVHTTP_REQ_PATCH);
	evhttp_set_bevcb(h->eh, http_bev_cb, NULL);
	evhttp_set_gencb(h->eh, http_request_cb, srv);
	if (http_sse_init(srv) < 0)
		return -1;
	int rc = http_bind(srv, h, srv->cfg->http_is_default);
	if (rc > 0) {
		http_free(srv);
		return 0;
	}
	return rc;
}

void http_stop(struct server *srv)
{
	if (!srv->http)
		return;
	evconnlistener_disable(srv->http->listener);
	http_sse_stop(srv);
}

void http_free(struct server *srv)
{
	struct http *h = srv->http;
	if (!h)
		return;
	http_export_free_all(srv);
	http_submit_free_all(srv);
	http_sse_free_all(srv);
	store_read_close(h->reader);
	/* evhttp_free frees the bound listener too. */
	evhttp_free(h->eh);
	free(h);
	srv->http = NULL;
}
