/* The JSON API for scripts and the page: GET /api/runs (recent runs, or
 * one session's) and GET /api/runs/ID (a run, its orders and their
 * steps), read from the database. */
#ifndef BAEDAL_HTTP_API_H
#define BAEDAL_HTTP_API_H

struct http_req;
struct server;
struct store_read;

#define HTTP_API_RUNS 64            /* runs a list holds, newest first */
#define HTTP_API_ORDERS_MAX 10000   /* orders a run's JSON lists; a trace has all */

void http_api_runs(struct http_req *hr);
void http_api_run(struct http_req *hr);

/* The web side's reader for short reads, opened on first use; NULL after
 * an error reply. */
struct store_read *http_api_reader(struct http_req *hr);

#endif
