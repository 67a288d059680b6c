/* GET /api/runs/ID/timeline.svg and /trace.json: a stored run as a picture
 * or a trace. A trace streams a bounded number of orders per pass of the
 * loop, each piece once the client has taken the last. */
#ifndef BAEDAL_HTTP_EXPORT_H
#define BAEDAL_HTTP_EXPORT_H

struct http_req;
struct server;

#define HTTP_EXPORTS_MAX 8          /* traces streaming at once */
#define HTTP_EXPORT_CHUNK 256       /* orders per piece */
/* The in-flight counter needs the run's steps in time order, which only
 * a sort of them all gives: made for runs up to this many orders. */
#define HTTP_EXPORT_COUNTER_MAX 100000u
#define HTTP_EXPORT_GROUP_MAX 8     /* runs stacked in one SVG */

void http_export_svg(struct http_req *hr);
void http_export_trace(struct http_req *hr);
void http_export_free_all(struct server *srv);

#endif
