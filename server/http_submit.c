#include "server/http_submit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/protocol.h"
#include "server/conn.h"
#include "server/export.h"
#include "server/http.h"
#include "server/log.h"
#include "server/server.h"
#include "server/session.h"

/* What the next OK or ERR (or the greeting) answers. */
enum pending_kind { P_HELLO, P_SETUP, P_RUN, P_SESSION };

struct pending {
	enum pending_kind kind;
	struct evhttp_request *req;     /* NULL: its client went away */
	struct pending *next;
};

struct http_client {
	struct server *srv;
	struct bufferevent *bev;        /* our end of a socketpair; conn.c has the other */
	char session[PROTO_SESSION_HEX + 1];
	struct pending *head, *tail;
	struct http_client *prev, *next;
};

/* The list is kept newest use first. */
static void client_unlink(struct http *h, struct http_client *cl)
{
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		h->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	cl->prev = cl->next = NULL;
}

static void client_link(struct http *h, struct http_client *cl)
{
	cl->next = h->clients;
	if (h->clients)
		h->clients->prev = cl;
	h->clients = cl;
}

static void pending_gone_cb(struct evhttp_connection *evcon, void *arg)
{
	struct pending *p = arg;
	(void)evcon;
	p->req = NULL;
}

static int client_expect(struct http_client *cl, enum pending_kind kind,
                         struct evhttp_request *req)
{
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->kind = kind;
	p->req = req;
	if (req)
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), pending_gone_cb, p);
	if (cl->tail)
		cl->tail->next = p;
	else
		cl->head = p;
	cl->tail = p;
	return 0;
}

/* The request p answers, taken from it: NULL if its client went away. */
static struct evhttp_request *pending_take(struct pending *p)
{
	struct evhttp_request *req = p->req;
	if (req)
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
	p->req = NULL;
	return req;
}

static struct pending *client_pop(struct http_client *cl)
{
	struct pending *p = cl->head;
	if (p && !(cl->head = p->next))
		cl->tail = NULL;
	return p;
}

/* Every request still waiting gets code; the connection goes. */
static void client_free(struct http_client *cl, const char *code, const char *why)
{
	struct http *h = cl->srv->http;
	struct pending *p;
	while ((p = client_pop(cl))) {
		struct evhttp_request *req = pending_take(p);
		if (req)
			http_reply_error(req, code, "%s", why);
		free(p);
	}
	client_unlink(h, cl);
	bufferevent_free(cl->bev);
	free(cl);
}

/* A field of an OK line, or "" (to a buffer of 40 bytes). */
static const char *client_field(const char *rest, const char *key, char out[40])
{
	const char *v;
	size_t n;
	out[0] = '\0';
	if (proto_find_field(rest, strlen(rest), key, &v, &n) == 0 && n < 40) {
		memcpy(out, v, n);
		out[n] = '\0';
	}
	return out;
}

static void client_ok(struct http_client *cl, enum pending_kind kind,
                      struct evhttp_request *req, const char *rest)
{
	char run[40], mode[40], orders[40];
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		http_reply_error(req, "busy", "out of memory");
		return;
	}
	if (kind == P_RUN)
		evbuffer_add_printf(body, "{\"run\":%s,\"mode\":\"%s\",\"orders\":%s,"
		                    "\"session\":\"%s\"}\n", client_field(rest, "run", run),
		                    client_field(rest, "mode", mode), client_field(rest, "orders", orders),
		                    cl->session);
	else
		evbuffer_add_printf(body, "{\"session\":\"%s\"}\n", cl->session);
	http_reply(req, 201, "application/json", body);
	evbuffer_free(body);
}

/* "ERR code text": the code, and the text as the message. */
static void client_err(struct evhttp_request *req, const char *rest)
{
	char code[32];
	size_t n = strcspn(rest, " ");
	snprintf(code, sizeof code, "%.*s", (int)(n < sizeof code ? n : sizeof code - 1), rest);
	http_reply_error(req, code, "%s", rest[n] ? rest + n + 1 : code);
}

/* One line from the server. Replies answer the pending requests in order;
 * events, DONE lines and the like are not for us. 0, or -1 when the
 * client was freed. */
static int client_line(struct http_client *cl, const char *line)
{
	int ok = strncmp(line, "OK", 2) == 0 && (line[2] == ' ' || !line[2]);
	int err = strncmp(line, "ERR ", 4) == 0;
	int hello = strncmp(line, "HELLO ", 6) == 0;
	if (strncmp(line, "BYE ", 4) == 0) {
		int busy = strstr(line, "reason=busy") != NULL;
		client_free(cl, busy ? "busy" : "session_attached",
		            busy ? "the server is at its connection limit; try again"
		                 : "the session's connection closed (another client attached it?)");
		return -1;
	}
	if (!ok && !err && !hello)
		return 0;
	struct pending *p = client_pop(cl);
	if (!p)
		return 0;
	enum pending_kind kind = p->kind;
	struct evhttp_request *req = pending_take(p);
	free(p);
	if (hello) {
		const char *v;
		size_t n;
		if (!cl->session[0] && proto_find_field(line, strlen(line), "session", &v, &n) == 0 &&
		    n == PROTO_SESSION_HEX)
			memcpy(cl->session, v, n);
		return 0;
	}
	if (err && kind == P_SETUP) {
		/* AUTH or ATTACH failed: what follows must not run elsewhere. */
		client_free(cl, "no_session", line + 4);
		return -1;
	}
	if (req && ok)
		client_ok(cl, kind, req, line[2] ? line + 3 : "");
	else if (req)
		client_err(req, line + 4);
	return 0;
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
		int gone = client_line(cl, line);
		free(line);
		if (gone)
			return;
	}
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg, "busy", "the server closed the connection; try again");
}

/* At the limit, the connection used longest ago that waits for no reply
 * goes, one whose session has runs first: that session stays on the
 * server, detached, until it expires, and a request naming it attaches it
 * again (an empty one ends with its connection). So the web side's
 * connections cannot be used up by asking for sessions and leaving them.
 * 0, or -1 if every one waits for a reply. */
static int client_make_room(struct http *h)
{
	size_t count = 0;
	struct http_client *idle = NULL, *idle_used = NULL;
	for (struct http_client *c = h->clients; c; c = c->next) {
		count++;
		if (c->head)
			continue;
		idle = c;
		struct session *s = session_find(c->srv, c->session);
		if (s && !session_unused(s))
			idle_used = c;
	}
	if (count < HTTP_CLIENTS_MAX)
		return 0;
	if (!idle)
		return -1;
	client_free(idle_used ? idle_used : idle, "busy", "");
	return 0;
}

static void client_send(struct http_client *cl, const char *line)
{
	bufferevent_write(cl->bev, line, strlen(line));
	bufferevent_write(cl->bev, "\n", 1);
}

/* A new local protocol connection: greeted with a session of its own, or
 * moved to the session attach names (not NULL). */
static struct http_client *client_new(struct server *srv, const char *attach)
{
	struct http *h = srv->http;
	int fds[2];
	if (client_make_room(h) < 0)
		return NULL;
	struct http_client *cl = calloc(1, sizeof *cl);
	if (!cl)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0 ||
	    !(cl->bev = bufferevent_socket_new(srv->base, fds[0], BEV_OPT_CLOSE_ON_FREE))) {
		free(cl);
		return NULL;
	}
	cl->srv = srv;
	bufferevent_priority_set(cl->bev, PRIO_IO);
	bufferevent_setcb(cl->bev, client_read_cb, NULL, client_event_cb, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	client_link(h, cl);
	conn_accept_web(srv, fds[1]);
	int rc = client_expect(cl, P_HELLO, NULL);
	if (srv->cfg->token) {
		char auth[PROTO_TOKEN_MAX + 8];
		snprintf(auth, sizeof auth, "AUTH %s", srv->cfg->token);
		client_send(cl, auth);
		rc |= client_expect(cl, P_SETUP, NULL);
	}
	/* Its replies are all it needs: events would only be formatted for
	 * nobody. */
	client_send(cl, "WATCH ends");
	rc |= client_expect(cl, P_SETUP, NULL);
	if (attach) {
		char line[64];
		snprintf(line, sizeof line, "ATTACH %s", attach);
		client_send(cl, line);
		rc |= client_expect(cl, P_SETUP, NULL);
		memcpy(cl->session, attach, PROTO_SESSION_HEX);
	}
	if (rc < 0) {
		client_free(cl, "busy", "out of memory");
		return NULL;
	}
	return cl;
}

/* The web side's connection to session id, made if needed: NULL after an
 * error reply. A session another client is attached to is not taken
 * from it (an ATTACH would close that client). */
static struct http_client *client_for(struct http_req *hr, const char *id)
{
	struct server *srv = hr->srv;
	struct http_client *cl = NULL;
	char lower[PROTO_SESSION_HEX + 1];
	if (!id) {
		cl = client_new(srv, NULL);
	} else if (http_session_id(hr, id, lower) < 0) {
		return NULL;
	} else {
		for (cl = srv->http->clients; cl; cl = cl->next) {
			if (strcmp(cl->session, lower) == 0) {
				client_unlink(srv->http, cl);
				client_link(srv->http, cl);
				return cl;
			}
		}
		struct session *s = session_find(srv, lower);
		if (!s) {
			http_reply_error(hr->req, "no_session", "no session has that id (it may have "
			                 "expired): POST without session= for a new one");
			return NULL;
		}
		/* A connection of ours attached to it was let go to make room and
		 * has not ended yet: it is taken back, not a terminal's. */
		if (s->conn && !s->conn->web) {
			http_reply_error(hr->req, "session_attached", "a client is attached to that "
			                 "session: submit there, or POST without session= for a new one");
			return NULL;
		}
		cl = client_new(srv, lower);
	}
	if (!cl)
		http_reply_error(hr->req, "busy", "the web side holds %d sessions; try again",
		                 HTTP_CLIENTS_MAX);
	return cl;
}

/* A form field: no byte that could end or split a protocol line. */
static int form_field(struct http_req *hr, struct evkeyvalq *form, const char *key,
                      const char **out)
{
	const char *v = evhttp_find_header(form, key);
	int seen = 0;
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, form, next)
		seen += strcmp(kv->key, key) == 0;
	*out = v;
	if (seen > 1) {
		http_reply_error(hr->req, "bad_args", "%s= is given %d times: once, please", key, seen);
		return -1;
	}
	for (; v && *v; v++) {
		if ((unsigned char)*v < 0x20 || *v == 0x7f) {
			http_reply_error(hr->req, "bad_args", "%s= has a control character", key);
			return -1;
		}
	}
	return 0;
}

/* Every field is one the form takes: one it does not would be dropped
 * unseen (a deadline the run would not have). */
static int form_known(struct http_req *hr, struct evkeyvalq *form)
{
	static const char *const keys[] = { "kind", "mode", "orders", "count", "meal", "prefix",
	                                    "group", "riders", "deadline", "session" };
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, form, next) {
		size_t i = 0;
		while (i < sizeof keys / sizeof keys[0] && strcmp(kv->key, keys[i]) != 0)
			i++;
		if (i == sizeof keys / sizeof keys[0]) {
			http_reply_error(hr->req, "bad_args", "the form takes no field '%.64s' (docs/http.md)",
			                 kv->key);
			return -1;
		}
	}
	return 0;
}

/* " key=value" onto line at n, if the form has the field. */
static int form_option(int n, char *line, size_t cap, const char *key, const char *value)
{
	if (!value || n < 0 || (size_t)n >= cap)
		return n;
	return n + snprintf(line + n, cap - (size_t)n, " %s=%s", key, value);
}

/* The RUN or GEN line the form describes, or -1 after an error reply. */
static int form_line(struct http_req *hr, struct evkeyvalq *form, char *line, size_t cap)
{
	const char *kind, *mode, *orders, *count, *meal, *prefix, *group, *riders, *deadline;
	if (form_known(hr, form) || form_field(hr, form, "kind", &kind) ||
	    form_field(hr, form, "mode", &mode) || form_field(hr, form, "orders", &orders) ||
	    form_field(hr, form, "count", &count) || form_field(hr, form, "meal", &meal) ||
	    form_field(hr, form, "prefix", &prefix) || form_field(hr, form, "group", &group) ||
	    form_field(hr, form, "riders", &riders) || form_field(hr, form, "deadline", &deadline))
		return -1;
	int gen = kind && strcmp(kind, "gen") == 0;
	if (kind && !gen && strcmp(kind, "run") != 0) {
		http_reply_error(hr->req, "bad_args", "kind= is run or gen");
		return -1;
	}
	int n = gen ? snprintf(line, cap, "GEN %s %s %s", mode ? mode : "", count ? count : "",
	                       meal ? meal : "")
	            : snprintf(line, cap, "RUN %s %s", mode ? mode : "", orders ? orders : "");
	n = form_option(n, line, cap, "prefix", gen ? prefix : NULL);
	n = form_option(n, line, cap, "group", group);
	n = form_option(n, line, cap, "riders", riders);
	n = form_option(n, line, cap, "deadline", deadline);
	if (n < 0 || (size_t)n >= cap) {
		http_reply_error(hr->req, "too_large", "the orders make a line longer than %d bytes",
		                 PROTO_MAX_LINE);
		return -1;
	}
	return 0;
}

/* The body as form fields (application/x-www-form-urlencoded). */
static int form_parse(struct http_req *hr, struct evkeyvalq *form)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(hr->req);
	size_t len = evbuffer_get_length(in);
	char *text = malloc(len + 1);
	TAILQ_INIT(form);
	if (!text) {
		http_reply_error(hr->req, "busy", "out of memory");
		return -1;
	}
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	/* A %00 would end its value early once decoded, unseen. */
	int nul = strlen(text) != len || strstr(text, "%00");
	int rc = nul ? -1 : evhttp_parse_query_str(text, form);
	free(text);
	if (nul)
		http_reply_error(hr->req, "bad_args", "the form has a NUL byte (%%00)");
	else if (rc < 0)
		http_reply_error(hr->req, "bad_args", "the body must be a form: "
		                 "mode=async&orders=A:3s+B:3s+C:4s (docs/http.md)");
	return rc;
}

void http_submit_run(struct http_req *hr)
{
	struct evkeyvalq form;
	char line[PROTO_MAX_LINE + 1];
	const char *session;
	if (form_parse(hr, &form) < 0)
		return;
	if (form_field(hr, &form, "session", &session) == 0 &&
	    form_line(hr, &form, line, sizeof line) == 0) {
		struct http_client *cl = client_for(hr, session && *session ? session : NULL);
		if (cl) {
			client_send(cl, line);
			if (client_expect(cl, P_RUN, hr->req) < 0) {
				http_reply_error(hr->req, "busy", "out of memory");
				client_free(cl, "busy", "out of memory");
			}
		}
	}
	evhttp_clear_headers(&form);
}

void http_submit_session(struct http_req *hr)
{
	struct http_client *cl = client_new(hr->srv, NULL);
	if (!cl) {
		http_reply_error(hr->req, "busy", "the web side holds %d sessions; try again",
		                 HTTP_CLIENTS_MAX);
		return;
	}
	/* PING's OK comes after the greeting: the session's id is known. */
	client_send(cl, "PING");
	if (client_expect(cl, P_SESSION, hr->req) < 0) {
		http_reply_error(hr->req, "busy", "out of memory");
		client_free(cl, "busy", "out of memory");
	}
}

void http_submit_free_all(struct server *srv)
{
	while (srv->http->clients)
		client_free(srv->http->clients, "busy", "the server is shutting down");
}
