#include "server/http_page.h"

#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "server/http.h"

/* Nothing the page loads comes from anywhere but this server; the
 * browser refuses it otherwise. */
#define PAGE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'"

static void page_send(struct http_req *hr, const char *name)
{
	for (size_t i = 0; i < web_assets_count; i++) {
		const struct web_asset *a = &web_assets[i];
		if (strcmp(a->name, name) != 0)
			continue;
		struct evbuffer *b = evbuffer_new();
		if (!b) {
			http_reply_error(hr->req, "busy", "out of memory");
			return;
		}
		evbuffer_add_reference(b, a->text, strlen(a->text), NULL, NULL);
		evhttp_add_header(evhttp_request_get_output_headers(hr->req),
		                  "Content-Security-Policy", PAGE_CSP);
		http_reply(hr->req, 200, a->type, b);
		evbuffer_free(b);
		return;
	}
	http_reply_error(hr->req, "not_found", "no such file: /static/%s", name);
}

void http_page_index(struct http_req *hr)
{
	page_send(hr, "index.html");
}

void http_page_asset(struct http_req *hr)
{
	page_send(hr, hr->arg);
}
