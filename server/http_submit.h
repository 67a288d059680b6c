/* POST /api/runs and POST /api/sessions: the web side submits runs through
 * the protocol itself, one local connection per session it uses, so that
 * a run from the page meets the same parser, limits and errors as RUN. */
#ifndef BAEDAL_HTTP_SUBMIT_H
#define BAEDAL_HTTP_SUBMIT_H

struct server;
struct http_req;

#define HTTP_CLIENTS_MAX 256    /* sessions the web side holds a connection to */

void http_submit_run(struct http_req *hr);
void http_submit_session(struct http_req *hr);
void http_submit_free_all(struct server *srv);

#endif
