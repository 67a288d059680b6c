/* The page: GET / (recent runs) and GET /s/SESSION (a session live), one
 * HTML file with its CSS and JavaScript from server/web/, compiled in by
 * server/web/embed_web.sh. */
#ifndef BAEDAL_HTTP_PAGE_H
#define BAEDAL_HTTP_PAGE_H

#include <stddef.h>

struct http_req;

struct web_asset {
	const char *name;       /* "index.html", served as /static/<name> */
	const char *type;       /* Content-Type */
	const char *text;
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

void http_page_index(struct http_req *hr);
void http_page_asset(struct http_req *hr);

#endif
